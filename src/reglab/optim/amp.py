"""AMP: adversarial model perturbation, N ascent steps inside an ε-ball of the weights, then descend.

Equation (Zheng et al. 2021: the AMP loss is E_B max_{‖Δ‖₂ ≤ ε} L_B(θ + Δ), maximized by ascent)::

    Δ ← 0
    repeat N times:   Δ ← Δ + ζ ∇L(θ + Δ);   if ‖Δ‖₂ > ε:  Δ ← ε Δ / ‖Δ‖₂
    θ ← inner_step(θ, ∇L(θ + Δ))

‖·‖₂ is over all parameters that have a gradient. Each step costs N + 1 forward-backward passes.
With N = 1 and ζ‖∇L‖ >= ε the ascent ends on the sphere, Δ = ε ∇L/‖∇L‖, which is SAM with ρ = ε.

Arguments:
    optimizer: the inner optimizer that takes the step from θ.
    epsilon: ε >= 0, the radius of the perturbation ball (the paper tunes it in 0.1 to 1).
    inner_steps: N >= 1, the number of ascent steps.
    inner_lr: ζ > 0, the ascent step size (1 in the paper's code).

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
    - ε, N and ζ are the same for all param groups (the ball is shared).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from reglab._core.registry import Capabilities, Family, Kind, Paper, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.validation import check_int, check_number
from reglab.optim._perturb import flat, global_norm, grads_of, params_with_grad, restore, snapshot
from reglab.optim._wrapper import OptimizerWrapper

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
    if delta is None:
        moved = torch._foreach_mul(grads, inner_lr)
    else:
        moved = torch._foreach_add(delta, grads, alpha=inner_lr)
    norm = global_norm(moved)
    torch._foreach_mul_(moved, (epsilon / norm.clamp_min(1e-12)).clamp(max=1.0))
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
class AMP(OptimizerWrapper):
    """Adversarial model perturbation wrapper; see ``reglab.card("amp")``."""

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        epsilon: float = 0.5,
        inner_steps: int = 1,
        inner_lr: float = 1.0,
    ) -> None:
        self.epsilon = check_number("epsilon", epsilon, low=0.0)
        self.inner_steps = check_int("inner_steps", inner_steps, low=1)
        self.inner_lr = check_number("inner_lr", inner_lr, low=0.0, low_open=True)
        super().__init__(optimizer, {})

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        closure = self._require_closure(closure)
        loss = closure()
        params = flat(params_with_grad(self.param_groups))
        if self.epsilon > 0 and params:
            saved = snapshot(params)
            delta = None
            for k in range(self.inner_steps):
                delta = amp_ascent(delta, grads_of(params), self.inner_lr, self.epsilon)
                if k > 0:  # back to θ, then to θ + Δ (the first step starts at θ)
                    restore(params, saved)
                torch._foreach_add_(params, delta)
                closure()
            restore(params, saved)
        self.optimizer.step()
        return loss

    def __repr__(self) -> str:
        return (f"AMP(epsilon={self.epsilon}, inner_steps={self.inner_steps}, "
                f"inner_lr={self.inner_lr}, optimizer={self.optimizer!r})")
