"""Gradient-norm clipping: rescale the whole gradient to norm τ when it is longer, then step.

Equation (Pascanu et al. 2013, Algorithm 1)::

    if ‖g‖₂ > τ:   g ← τ g / ‖g‖₂

‖g‖₂ is over all parameters of all param groups that have a gradient (one global norm, like
``torch.nn.utils.clip_grad_norm_``), so the direction of the update is kept.

Arguments:
    optimizer: the inner optimizer (it may be a closure-evaluating wrapper such as SAM: the
        clipping then acts on the gradient SAM steps with, ∇L(w + ε̂), right before the inner step).
    max_norm: τ > 0, a float or a schedule (``rl.schedules``) evaluated at the wrapper's step
        counter. Kept in each param group as ``max_norm`` (change it there by hand); the norm is
        global, so it must be the same in every group.

Returns:
    ``step(closure=None)`` returns the closure's loss, or None without a closure. A closure is
    optional: call ``loss.backward()`` then ``opt.step()`` as with any optimizer.

Example:
    >>> import torch, reglab as rl
    >>> w = torch.nn.Parameter(torch.zeros(2))
    >>> opt = rl.ClipGradNorm(torch.optim.SGD([w], lr=1.0), max_norm=1.0)
    >>> w.grad = torch.tensor([3.0, 4.0])
    >>> opt.step()
    >>> w.detach()                    # moved by the clipped gradient [0.6, 0.8]
    tensor([-0.6000, -0.8000])

Reference:
    Razvan Pascanu, Tomas Mikolov, Yoshua Bengio. On the difficulty of training Recurrent Neural
    Networks. ICML 2013. arXiv:1211.5063.

Traps:
    - The threshold is on the global norm: clipping each tensor on its own changes the direction.
    - ``torch.nn.utils.clip_grad_norm_`` divides by ‖g‖ + 1e-6; this follows the paper exactly
      (no ε), and leaves a zero gradient as it is.
    - With mixed precision, unscale the gradients before the step (``GradScaler.unscale_``).
"""

from __future__ import annotations

import torch

from reglab._core.registry import Family, Kind, Paper, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.schedules import Schedule
from reglab.optim._perturb import flat, global_norm, params_with_grad, set_grads
from reglab.optim._wrapper import PreStepWrapper, as_float, check_hyper

DIFFICULTY_OF_TRAINING_RNNS = Paper(
    authors="Razvan Pascanu, Tomas Mikolov, Yoshua Bengio",
    title="On the difficulty of training Recurrent Neural Networks",
    year=2013,
    arxiv="1211.5063",
)


def clip_by_global_norm(
    grads: list[torch.Tensor], max_norm: float
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """(τ g/‖g‖ if ‖g‖ > τ else g, ‖g‖) over the whole list; new tensors and the norm before clipping."""
    norm = global_norm(grads)
    factor = (max_norm / norm).clamp(max=1.0)  # ‖g‖ = 0 gives inf, clamped to 1
    return torch._foreach_mul(grads, factor), norm


def _sample(ctx: SampleContext) -> Sample:
    return Sample(
        kwargs={"optimizer": ctx.optimizer(), "max_norm": 0.1},
        invalid=({"max_norm": 0.0}, {"max_norm": -1.0}, {"max_norm": float("nan")},
                 {"optimizer": ctx.model}),
        identity={"max_norm": 1e12},
    )


@register(
    "clip-grad-norm",
    family=Family.OPTIMIZER,
    kind=Kind.OPTIMIZER,
    paper=DIFFICULTY_OF_TRAINING_RNNS,
    sample=_sample,
)
class ClipGradNorm(PreStepWrapper):
    """Global gradient-norm clipping wrapper; see ``reglab.card("clip-grad-norm")``."""

    def __init__(self, optimizer: torch.optim.Optimizer, max_norm: float | Schedule = 1.0) -> None:
        max_norm = check_hyper("max_norm", max_norm, low_open=True)
        super().__init__(optimizer, {"max_norm": as_float(max_norm)})
        for group in self.param_groups:
            check_hyper("max_norm", group["max_norm"], low_open=True)

    def _rewrite(self) -> None:
        params = flat(params_with_grad(self.param_groups))
        if params:
            max_norm = self._shared_value("max_norm", "the norm is over all groups")
            clipped, _ = clip_by_global_norm([p.grad for p in params], max_norm)
            set_grads(params, clipped)

    def __repr__(self) -> str:
        return f"ClipGradNorm(max_norm={self.param_groups[0]['max_norm']}, optimizer={self.optimizer!r})"
