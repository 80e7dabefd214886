"""Gradient-norm penalty (gradient regularization): descend on L + (γ/2)‖∇L‖², by finite differences or double backprop.

Equation (Karakida et al. 2023)::

    ∇[ L + (γ/2)‖∇L‖² ] = g + γ H g,           g = ∇L(θ), H = ∇²L(θ)
    fd-ascent  (F-GR):  g + (γ/ε) [ ∇L(θ + ε g) − g ]
    fd-descent (B-GR):  g + (γ/ε) [ g − ∇L(θ − ε g) ]
    double-backprop:    g + γ H g exactly, with H g = ∇_θ (½‖g‖²) through the graph of g

The finite-difference forms cost two forward-backward passes and err by O(ε); the probe is ε·g
(not normalized), as in the paper. With ε = γ, fd-ascent steps with ∇L(θ + γ g) alone: an
unnormalized SAM.

Arguments:
    optimizer: the inner optimizer; it steps with the penalized gradient.
    strength: γ >= 0 (the paper sweeps 1e-4 to 1e-1), a float or a schedule (``rl.schedules``)
        evaluated at the wrapper's step counter; kept in each param group as ``strength`` and may
        differ per group (each group's part of the gradient gets its own γ).
    method: ``"fd-ascent"`` (default, recommended by the paper), ``"fd-descent"`` or
        ``"double-backprop"`` (a ``GradientNormMethod``).
    epsilon: ε > 0, the probe size of the finite differences (the paper sweeps 0.01 to 0.5 and
        finds large ε generalizes best with fd-ascent), a float or a schedule; unused by
        double-backprop. Kept in each param group as ``epsilon``; the probe moves all parameters
        at once, so it must be the same in every group.
    ``method`` is fixed at construction (it decides what the closure must do).

Returns:
    ``step(closure)`` returns the closure's loss at θ.

Example:
    >>> import torch, torch.nn.functional as F, reglab as rl
    >>> model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    >>> opt = rl.GradientNormPenalty(torch.optim.SGD(model.parameters(), lr=0.1), strength=0.01)
    >>> x, y = torch.randn(8, 4), torch.randint(0, 2, (8,))
    >>> def closure():
    ...     opt.zero_grad()
    ...     loss = F.cross_entropy(model(x), y)
    ...     loss.backward()        # double-backprop needs loss.backward(create_graph=True)
    ...     return loss
    >>> loss = opt.step(closure)

Reference:
    Ryo Karakida, Tomoumi Takase, Tomohiro Hayase, Kazuki Osawa. Understanding Gradient
    Regularization in Deep Learning: Efficient Finite-Difference Computation and Implicit Bias.
    ICML 2023. arXiv:2210.02720.

Traps:
    - ``double-backprop`` needs the closure to call ``loss.backward(create_graph=True)`` (the
      wrapper cannot rebuild a freed graph); it raises a clear error otherwise. Its instances
      report ``capabilities.needs_create_graph``; the registry entry does not (the default
      finite-difference method must not pay for a kept graph).
    - The penalty is on the gradient of the closure's loss, penalties included.
    - ReLU networks have a piecewise-constant gradient; a probe that crosses a kink makes the
      finite difference differ from the (almost everywhere) exact H g.
    - ε and the method are the same for all param groups; γ may differ per group.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any

import torch

from reglab._core.registry import Capabilities, Family, Kind, Paper, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.schedules import Schedule
from reglab._core.validation import check_choice
from reglab.optim._perturb import flat, grads_of, params_with_grad, restore, set_grads, snapshot
from reglab.optim._wrapper import Action, ClosureWrapper, as_float, check_hyper

GRADIENT_REGULARIZATION = Paper(
    authors="Ryo Karakida, Tomoumi Takase, Tomohiro Hayase, Kazuki Osawa",
    title="Understanding Gradient Regularization in Deep Learning: Efficient Finite-Difference "
    "Computation and Implicit Bias",
    year=2023,
    arxiv="2210.02720",
)


class GradientNormMethod(StrEnum):
    """How the gradient of (γ/2)‖∇L‖² is computed."""

    FD_ASCENT = "fd-ascent"
    FD_DESCENT = "fd-descent"
    DOUBLE_BACKPROP = "double-backprop"


def finite_difference_penalty_gradient(
    grads: list[torch.Tensor],
    probe_grads: list[torch.Tensor],
    strength: float,
    epsilon: float,
    method: GradientNormMethod | str = GradientNormMethod.FD_ASCENT,
) -> list[torch.Tensor]:
    """g + (γ/ε)(g₊ − g) (fd-ascent, g₊ = ∇L(θ+εg)) or g + (γ/ε)(g − g₋) (fd-descent, g₋ = ∇L(θ−εg))."""
    kind = check_choice("method", method, GradientNormMethod)
    if kind is GradientNormMethod.DOUBLE_BACKPROP:
        raise ValueError("method must be fd-ascent or fd-descent for a finite difference")
    ratio = strength / epsilon if kind is GradientNormMethod.FD_ASCENT else -strength / epsilon
    out = torch._foreach_mul(probe_grads, ratio)  # g + r (g± − g) = r g± + (1 − r) g
    torch._foreach_add_(out, grads, alpha=1.0 - ratio)
    return out


def _sample(ctx: SampleContext) -> Sample:
    return Sample(
        kwargs={"optimizer": ctx.optimizer(), "strength": 0.1, "epsilon": 0.01},
        invalid=({"strength": -1.0}, {"epsilon": 0.0}, {"method": "fd-central"},
                 {"optimizer": None}),
        identity={"strength": 0.0},
    )


@register(
    "gradient-norm",
    family=Family.OPTIMIZER,
    kind=Kind.OPTIMIZER,
    paper=GRADIENT_REGULARIZATION,
    capabilities=Capabilities(needs_closure=True),
    sample=_sample,
)
class GradientNormPenalty(ClosureWrapper):
    """Gradient-norm penalty wrapper; see ``reglab.card("gradient-norm")``."""

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        strength: float | Schedule = 0.01,
        method: GradientNormMethod | str = GradientNormMethod.FD_ASCENT,
        epsilon: float | Schedule = 0.01,
    ) -> None:
        strength = check_hyper("strength", strength)
        self.method = check_choice("method", method, GradientNormMethod)
        epsilon = check_hyper("epsilon", epsilon, low_open=True)
        super().__init__(optimizer, {"strength": as_float(strength), "epsilon": as_float(epsilon)})
        for group in self.param_groups:
            check_hyper("strength", group["strength"])
            check_hyper("epsilon", group["epsilon"], low_open=True)

    @property
    def capabilities(self) -> Capabilities:
        """What this instance needs from the training step (double backprop keeps the graph)."""
        return Capabilities(
            needs_closure=True,
            needs_create_graph=self.method is GradientNormMethod.DOUBLE_BACKPROP,
        )

    def _step(self, closure: Callable[[], Any] | None, before: tuple[Action, ...]) -> Any:
        closure = self._require_closure(closure)
        loss = closure()
        groups = params_with_grad(self.param_groups)
        strengths = [self._value(g, "strength") for g in self.param_groups]
        if self.method is GradientNormMethod.DOUBLE_BACKPROP:
            params = flat(groups)
            if any(strengths):
                set_grads(params, self._double_backprop(groups, strengths))
            else:
                set_grads(params, grads_of(params))
        elif any(ps and s > 0 for ps, s in zip(groups, strengths)):
            set_grads(flat(groups), self._finite_difference(groups, strengths, closure))
        self._inner_step(before)
        return loss

    def _finite_difference(
        self, groups: list[list[torch.Tensor]], strengths: list[float], closure: Callable[[], Any]
    ) -> list[torch.Tensor]:
        epsilon = self._shared_value("epsilon", "the probe moves all parameters at once")
        params = flat(groups)
        grads = [p.grad.detach() for p in params]
        for p in params:  # keep g: the probe's backward then writes fresh gradient tensors
            p.grad = None
        saved = snapshot(params)
        sign = 1.0 if self.method is GradientNormMethod.FD_ASCENT else -1.0
        torch._foreach_add_(params, grads, alpha=sign * epsilon)
        closure()
        probe = grads_of(params)
        restore(params, saved)
        out, start = [], 0
        for ps, strength in zip(groups, strengths):
            end = start + len(ps)
            if ps:
                out += finite_difference_penalty_gradient(grads[start:end], probe[start:end], strength,
                                                          epsilon, self.method)
            start = end
        return out

    def _double_backprop(self, groups: list[list[torch.Tensor]], strengths: list[float]) -> list[torch.Tensor]:
        params = flat(groups)
        grads = grads_of(params)
        if not params:
            return []
        if not any(g.requires_grad for g in grads):
            raise ValueError(
                "GradientNormPenalty(method='double-backprop') needs the closure to call "
                "loss.backward(create_graph=True) so that the gradient can be differentiated"
            )
        with torch.enable_grad():
            half_sq = sum((g * g).sum() for g in grads if g.requires_grad)
            hess_grad = torch.autograd.grad(half_sq * 0.5, params, allow_unused=True)
        per_param = [s for ps, s in zip(groups, strengths) for _ in ps]
        return [g.detach() + s * (torch.zeros_like(g) if hg is None else hg)
                for g, hg, s in zip(grads, hess_grad, per_param)]

    def __repr__(self) -> str:
        g = self.param_groups[0]
        return (f"GradientNormPenalty(strength={g['strength']}, method={self.method.value!r}, "
                f"epsilon={g['epsilon']}, optimizer={self.optimizer!r})")
