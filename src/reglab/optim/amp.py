"""AMP: adversarial model perturbation, N ascent steps inside an ε-ball of the weights, then descend.

Equation (Zheng et al. 2021: the AMP loss is E_B max_{‖Δ‖₂ ≤ ε} L_B(θ + Δ), maximized by ascent)::

    Δ ← 0
    repeat N times:   Δ ← Δ + ζ ∇L(θ + Δ);   if ‖Δ‖₂ > ε:  Δ ← ε Δ / ‖Δ‖₂
    θ ← inner_step(θ, ∇L(θ + Δ))

‖·‖₂ is over all parameters that have a gradient. Each step costs N + 1 forward-backward passes.
With N = 1 and ζ‖∇L‖ >= ε the ascent ends on the sphere, Δ = ε ∇L/‖∇L‖, which is SAM with ρ = ε.

Arguments:
    optimizer: the inner optimizer that takes the step from θ.
    epsilon: ε >= 0, the radius of the perturbation ball (the paper tunes it in 0.1 to 1), a
        float or a schedule (``rl.schedules``) evaluated at the wrapper's step counter.
    inner_steps: N >= 1, the number of ascent steps (an integer, not a schedule).
    inner_lr: ζ > 0, the ascent step size (1 in the paper's code), a float or a schedule.
    All three are kept in each param group (``epsilon``, ``inner_steps``, ``inner_lr``) and can be
    changed there by hand; ζ may differ per group, ε and N must be the same in every group (the
    ball is over the whole parameter vector).

Returns:
    ``step(closure)`` returns the closure's loss at θ (before any perturbation).

Example:
    >>> import torch, torch.nn.functional as F, reglab as rl
    >>> model = torch.nn.Linear(4, 2)
    >>> opt = rl.AMP(torch.optim.SGD(model.parameters(), lr=0.1), epsilon=0.5, inner_steps=2)
    >>> x, y = torch.randn(8, 4), torch.randint(0, 2, (8,))
    >>> def closure():
    ...     opt.zero_grad()
    ...     loss = F.cross_entropy(model(x), y)
    ...     loss.backward()
    ...     return loss
    >>> loss = opt.step(closure)

Reference:
    Yaowei Zheng, Richong Zhang, Yongyi Mao. Regularizing Neural Networks via Adversarial Model
    Perturbation. CVPR 2021. arXiv:2010.04925.

Traps:
    - The ascent step is the plain gradient ζ∇L, as in the authors' code (hiyouga/AMP-Regularizer);
      it is not normalized, so ζ and ε interact with the gradient's scale. Some summaries (our
      paper notes) write a normalized step ζ∇L/‖∇L‖, which we could not confirm in the paper;
      both readings give SAM for N = 1 when the step reaches the sphere.
    - The ball is over the whole parameter vector, as in the paper's definition of the AMP loss;
      the authors' code projects each tensor on its own ε-ball, a different (looser) constraint.
    - ε and N are the same for all param groups (the ball is shared); ζ may differ per group.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from reglab._core.registry import Capabilities, Family, Kind, Paper, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.schedules import Schedule
from reglab._core.validation import check_int
from reglab.optim._perturb import flat, global_norm, grads_of, params_with_grad, restore, snapshot
from reglab.optim._wrapper import Action, ClosureWrapper, as_float, check_hyper

ADVERSARIAL_MODEL_PERTURBATION = Paper(
    authors="Yaowei Zheng, Richong Zhang, Yongyi Mao",
    title="Regularizing Neural Networks via Adversarial Model Perturbation",
    year=2021,
    arxiv="2010.04925",
)


def amp_ascent(
    delta: list[torch.Tensor] | None, grads: list[torch.Tensor], inner_lr: float, epsilon: float
) -> list[torch.Tensor]:
    """One ascent step Δ + ζ g (Δ = 0 when ``None``), projected on the ε-ball of the whole list (new tensors)."""
    return _ascent([delta], [grads], [inner_lr], epsilon)[0]


def _ascent(
    deltas: list[list[torch.Tensor] | None], grads: list[list[torch.Tensor]], lrs: list[float], epsilon: float
) -> list[list[torch.Tensor]]:
    """``amp_ascent`` over param groups, each with its own ζ, projected on one ε-ball."""
    moved = [torch._foreach_mul(g, lr) if d is None else torch._foreach_add(d, g, alpha=lr)
             for d, g, lr in zip(deltas, grads, lrs)]
    factor = (epsilon / global_norm(flat(moved)).clamp_min(1e-12)).clamp(max=1.0)
    for m in moved:
        if m:
            torch._foreach_mul_(m, factor)
    return moved


def _sample(ctx: SampleContext) -> Sample:
    return Sample(
        kwargs={"optimizer": ctx.optimizer(), "epsilon": 0.1, "inner_steps": 2},
        invalid=({"epsilon": -0.1}, {"inner_steps": 0}, {"inner_steps": 1.5}, {"inner_lr": 0.0},
                 {"optimizer": "sgd"}),
        identity={"epsilon": 0.0},
    )


@register(
    "amp",
    family=Family.OPTIMIZER,
    kind=Kind.OPTIMIZER,
    paper=ADVERSARIAL_MODEL_PERTURBATION,
    capabilities=Capabilities(needs_closure=True),
    sample=_sample,
)
class AMP(ClosureWrapper):
    """Adversarial model perturbation wrapper; see ``reglab.card("amp")``."""

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        epsilon: float | Schedule = 0.5,
        inner_steps: int = 1,
        inner_lr: float | Schedule = 1.0,
    ) -> None:
        epsilon = check_hyper("epsilon", epsilon)
        inner_steps = check_int("inner_steps", inner_steps, low=1)
        inner_lr = check_hyper("inner_lr", inner_lr, low_open=True)
        super().__init__(optimizer, {"epsilon": as_float(epsilon), "inner_steps": inner_steps,
                                     "inner_lr": as_float(inner_lr)})
        for group in self.param_groups:
            check_hyper("epsilon", group["epsilon"])
            check_int("inner_steps", group["inner_steps"], low=1)
            check_hyper("inner_lr", group["inner_lr"], low_open=True)

    def _step(self, closure: Callable[[], Any] | None, before: tuple[Action, ...]) -> Any:
        closure = self._require_closure(closure)
        loss = closure()
        groups = params_with_grad(self.param_groups)
        params = flat(groups)
        epsilon = self._shared_value("epsilon", "the ball is over all parameters")
        if epsilon > 0 and params:
            inner_steps = self._shared_value("inner_steps", "the ascent moves all parameters together")
            lrs = [self._value(g, "inner_lr") for g in self.param_groups]
            saved = snapshot(params)
            delta: list[list[torch.Tensor] | None] = [None] * len(groups)
            for k in range(inner_steps):
                delta = _ascent(delta, [grads_of(ps) for ps in groups], lrs, epsilon)  # type: ignore[assignment]
                if k > 0:  # back to θ, then to θ + Δ (the first step starts at θ)
                    restore(params, saved)
                torch._foreach_add_(params, flat(delta))  # type: ignore[arg-type]
                closure()
            restore(params, saved)
        self._inner_step(before)
        return loss

    def __repr__(self) -> str:
        g = self.param_groups[0]
        return (f"AMP(epsilon={g['epsilon']}, inner_steps={g['inner_steps']}, "
                f"inner_lr={g['inner_lr']}, optimizer={self.optimizer!r})")
