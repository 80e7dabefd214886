"""⊥Grad (PerpGrad): remove from the gradient its component along the weights before the inner step.

Equation (Prieto et al. 2025)::

    g⊥ = g − (⟨θ, g⟩ / ⟨θ, θ⟩) θ
    rescaled (default):  g⊥ ← g⊥ · ‖g‖ / ‖g⊥‖
    θ ← inner_step(θ, g⊥)

The removed component is the naïve-loss-minimization direction: scaling the weights (and so the
logits) without changing the predictions. The projection is per parameter tensor (default) or
over the whole parameter vector.

Arguments:
    optimizer: the inner optimizer (the paper uses AdamW and SGD: ⊥AdamW, ⊥SGD). It may be a
        closure-evaluating wrapper such as SAM: the projection then acts on the gradient SAM
        steps with, ∇L(θ + ε̂), against the restored θ, right before the inner step.
    projection: ``"per-tensor"`` (default) or ``"global"`` (a ``PerpGradProjection``).
    rescale: True (default) scales g⊥ back to ‖g‖ (per tensor, or globally); False keeps the
        plain projection.
    Both are kept in each param group (``projection``, ``rescale``) and may differ per group;
    the tensors of all "global" groups are projected together as one vector, so those groups
    must agree on ``rescale``.

Returns:
    ``step(closure=None)`` returns the closure's loss, or None without a closure. A closure is
    optional: call ``loss.backward()`` then ``opt.step()`` as with any optimizer.

Example:
    >>> import torch, reglab as rl
    >>> w = torch.nn.Parameter(torch.tensor([3.0, 4.0]))
    >>> opt = rl.PerpGrad(torch.optim.SGD([w], lr=0.1), rescale=False)
    >>> w.grad = torch.tensor([3.0, 0.0])
    >>> opt.step()
    >>> w.grad        # the part along w is gone
    tensor([ 1.9200, -1.4400])

Reference:
    Lucas Prieto, Melih Barsbey, Pedro A.M. Mediano, Tolga Birdal. Grokking at the Edge of
    Numerical Stability. ICLR 2025. arXiv:2501.04697.

Traps:
    - The paper writes the projection on the parameter vector θ without rescaling; its code
      (orthograd.py), which produced its results, projects each tensor and rescales to ‖g‖. The
      defaults follow the code; ``projection="global", rescale=False`` is the paper's equation.
    - A zero tensor (a bias at initialization) has no direction to remove: its gradient passes
      unchanged; a gradient along θ (‖g⊥‖ within 64 eps of ‖g‖'s rounding) becomes zero rather
      than rounding noise rescaled to ‖g‖.
    - The inner optimizer's own weight decay acts after the projection.
"""

from __future__ import annotations

from enum import StrEnum

import torch

from reglab._core.registry import Family, Kind, Paper, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.validation import check_bool, check_choice
from reglab.optim._perturb import global_norm, params_with_grad, set_grads
from reglab.optim._wrapper import PreStepWrapper

GROKKING_AT_THE_EDGE = Paper(
    authors="Lucas Prieto, Melih Barsbey, Pedro A.M. Mediano, Tolga Birdal",
    title="Grokking at the Edge of Numerical Stability",
    year=2025,
    arxiv="2501.04697",
)


class PerpGradProjection(StrEnum):
    """What the gradient is made orthogonal to."""

    PER_TENSOR = "per-tensor"
    GLOBAL = "global"


_ROUNDING = 64.0  # multiples of the dtype's eps below which ‖g⊥‖/‖g‖ is rounding


def _safe_div(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    return torch.where(den > 0, num / torch.where(den > 0, den, torch.ones_like(den)), torch.zeros_like(num))


def _project(params: list[torch.Tensor], grads: list[torch.Tensor], rescale: bool) -> list[torch.Tensor]:
    """Project ``grads`` (one vector made of the list) orthogonally to ``params`` (the same)."""
    dot = sum((p.detach() * g).sum() for p, g in zip(params, grads))
    coef = _safe_div(dot, global_norm([p.detach() for p in params]) ** 2)
    out = [g - coef * p.detach() for p, g in zip(params, grads)]
    if rescale:
        # A g⊥ at rounding level (g along θ) holds no direction: it becomes zero, not noise × ‖g‖.
        norm, norm_perp = global_norm(grads), global_norm(out)
        floor = _ROUNDING * torch.finfo(norm.dtype).eps * norm
        ratio = _safe_div(norm, norm_perp) * (norm_perp > floor)
        out = [g * ratio for g in out]
    return out


def perpendicular_gradient(
    params: list[torch.Tensor],
    grads: list[torch.Tensor],
    projection: PerpGradProjection | str = PerpGradProjection.PER_TENSOR,
    rescale: bool = True,
) -> list[torch.Tensor]:
    """g − (⟨θ,g⟩/⟨θ,θ⟩)θ per tensor or over the list, optionally rescaled to ‖g‖ (new tensors)."""
    if check_choice("projection", projection, PerpGradProjection) is PerpGradProjection.GLOBAL:
        return _project(list(params), list(grads), rescale)
    return [_project([p], [g], rescale)[0] for p, g in zip(params, grads)]


def _sample(ctx: SampleContext) -> Sample:
    return Sample(
        kwargs={"optimizer": ctx.optimizer()},
        invalid=({"projection": "per-layer"}, {"rescale": 1}, {"optimizer": ctx.model}),
        identity=None,
    )


@register(
    "perpgrad",
    family=Family.OPTIMIZER,
    kind=Kind.OPTIMIZER,
    paper=GROKKING_AT_THE_EDGE,
    sample=_sample,
)
class PerpGrad(PreStepWrapper):
    """⊥Grad wrapper; see ``reglab.card("perpgrad")``."""

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        projection: PerpGradProjection | str = PerpGradProjection.PER_TENSOR,
        rescale: bool = True,
    ) -> None:
        projection = check_choice("projection", projection, PerpGradProjection)
        super().__init__(optimizer, {"projection": projection, "rescale": check_bool("rescale", rescale)})
        for group in self.param_groups:
            group["projection"] = check_choice("projection", group["projection"], PerpGradProjection)
            check_bool("rescale", group["rescale"])

    def _rewrite(self) -> None:
        together: list[torch.Tensor] = []
        rescales: set[bool] = set()
        for group, params in zip(self.param_groups, params_with_grad(self.param_groups)):
            projection = check_choice("projection", group["projection"], PerpGradProjection)
            if projection is PerpGradProjection.GLOBAL and params:
                together += params
                rescales.add(group["rescale"])
            elif params:
                grads = [p.grad for p in params]
                set_grads(params, perpendicular_gradient(params, grads, projection, group["rescale"]))
        if len(rescales) > 1:
            raise ValueError(
                "PerpGrad needs the same rescale in every param group with projection='global' "
                "(their tensors are projected together as one vector), got both True and False"
            )
        if together:
            grads = [p.grad for p in together]
            set_grads(together, perpendicular_gradient(together, grads, PerpGradProjection.GLOBAL,
                                                       rescales.pop()))

    def __repr__(self) -> str:
        groups = [(g["projection"].value, g["rescale"]) for g in self.param_groups]
        return f"PerpGrad(projection, rescale={groups}, optimizer={self.optimizer!r})"
