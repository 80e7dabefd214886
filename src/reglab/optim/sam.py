"""SAM and ASAM: step with the gradient taken at the worst point of a ρ-ball around the weights.

Equation (Foret et al. 2021; Kwon et al. 2021)::

    ε̂(w) = ρ · T_w² ∇L(w) / ‖T_w ∇L(w)‖₂
    T_w  = I                      (SAM, adaptive=False)
    T_w  = diag(|w| + η)          (ASAM, adaptive=True: element-wise, scale-invariant)
    w    ← inner_step(w, ∇L(w + ε̂(w)))

The norm runs over all parameters that have a gradient (all groups together). Each step costs
two forward-backward passes: the closure runs at w, then at w + ε̂.

Arguments:
    optimizer: the inner optimizer (SGD, AdamW, ...); it takes the step from w.
    rho: ρ >= 0, the radius (SAM: 0.05 is typical; ASAM needs larger, 0.5 to 2 in its paper);
        a float or a schedule (``rl.schedules``) evaluated at the wrapper's step counter.
    adaptive: False for SAM, True for ASAM.
    eta: η >= 0, ASAM's offset in T_w (0.01 in its paper), a float or a schedule; unused when
        adaptive=False.
    ``rho``, ``adaptive`` and ``eta`` are written into each param group and may differ per group
    (e.g. adaptive=False for biases, as the ASAM code does) or be changed by hand
    (``group["rho"] = 0.1``); a group dict given to the inner optimizer with its own ``rho`` keeps it.

Returns:
    ``step(closure)`` returns the closure's loss at w (before the perturbation).

Example:
    >>> import torch, torch.nn.functional as F, reglab as rl
    >>> model = torch.nn.Linear(4, 2)
    >>> opt = rl.SAM(torch.optim.SGD(model.parameters(), lr=0.1), rho=0.05)
    >>> x, y = torch.randn(8, 4), torch.randint(0, 2, (8,))
    >>> def closure():
    ...     opt.zero_grad()
    ...     loss = F.cross_entropy(model(x), y)
    ...     loss.backward()
    ...     return loss
    >>> loss = opt.step(closure)

Reference:
    Pierre Foret, Ariel Kleiner, Hossein Mobahi, Behnam Neyshabur. Sharpness-Aware Minimization
    for Efficiently Improving Generalization. ICLR 2021. arXiv:2010.01412.
    Jungmin Kwon, Jeongseop Kim, Hyunseo Park, In Kwon Choi. ASAM: Adaptive Sharpness-Aware
    Minimization for Scale-Invariant Learning of Deep Neural Networks. ICML 2021. arXiv:2102.11600.
    The catalog files the SAM family under "Robustly Learning a Single Neuron via Sharpness"
    (a seed paper on learning one neuron under adversarial label noise, which uses sharpness in
    its analysis); the optimizer implemented here is Foret et al.'s.

Traps:
    - The closure runs twice a step, so BatchNorm running statistics are updated at w + ε̂ too,
      and a penalty's strength schedule advances twice (see ``reglab.Recipe``).
    - ASAM here scales every parameter of an adaptive group, biases included; the ASAM code
      scales only tensors named "weight". Put biases in a group with ``adaptive=False`` to match.
    - With data parallelism, ε̂ uses each worker's own gradient unless the closure all-reduces
      it (Foret et al.'s m-sharpness); the returned loss is the unperturbed one.
    - A zero gradient gives ε̂ = 0 (the norm is clamped at 1e-12).
    - ``ClipGradNorm``, ``PerpGrad`` and ``DecoupledWeightDecay`` may wrap SAM: they act after
      both passes, on ∇L(w + ε̂) at the restored w, right before the inner step (as when SAM wraps
      them). Another closure-evaluating wrapper (AMP, gradient-norm penalty) cannot be nested.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from reglab._core.registry import Capabilities, Family, Kind, Paper, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.schedules import Schedule
from reglab._core.validation import check_bool
from reglab.optim._perturb import flat, global_norm, grads_of, params_with_grad, restore, snapshot
from reglab.optim._wrapper import Action, ClosureWrapper, as_float, check_hyper

SHARPNESS_AWARE_MINIMIZATION = Paper(
    authors="Pierre Foret, Ariel Kleiner, Hossein Mobahi, Behnam Neyshabur",
    title="Sharpness-Aware Minimization for Efficiently Improving Generalization",
    year=2021,
    arxiv="2010.01412",
)

# (params, grads, rho, adaptive, eta) of one param group
_Group = tuple[list[torch.Tensor], list[torch.Tensor], float, bool, float]


def _perturbations(groups: list[_Group]) -> list[list[torch.Tensor]]:
    """ε̂ per group, with one norm ‖T g‖ over all groups."""
    scaled, scales = [], []
    for params, grads, _, adaptive, eta in groups:
        scale = None
        if adaptive and params:
            scale = torch._foreach_abs(params)
            torch._foreach_add_(scale, eta)
        scales.append(scale)
        scaled.append(grads if scale is None else torch._foreach_mul(grads, scale))
    norm = global_norm(flat(scaled)).clamp_min(1e-12)
    out = []
    for (_, _, rho, _, _), tg, scale in zip(groups, scaled, scales):
        e = torch._foreach_mul(tg, rho / norm) if tg else []
        if scale is not None:
            torch._foreach_mul_(e, scale)
        out.append(e)
    return out


def sam_perturbation(
    params: list[torch.Tensor],
    grads: list[torch.Tensor],
    rho: float,
    adaptive: bool = False,
    eta: float = 0.01,
) -> list[torch.Tensor]:
    """ε̂ = ρ T² g / ‖T g‖₂ over the list (T = |w| + η if ``adaptive``, else 1), one tensor per parameter."""
    return _perturbations([(list(params), list(grads), rho, adaptive, eta)])[0]


def _check_group(group: dict[str, Any]) -> None:
    check_hyper("rho", group["rho"])
    check_hyper("eta", group["eta"])
    check_bool("adaptive", group["adaptive"])


def _sample(ctx: SampleContext) -> Sample:
    return Sample(
        kwargs={"optimizer": ctx.optimizer(), "rho": 0.05},
        invalid=({"rho": -0.1}, {"rho": float("inf")}, {"eta": -1.0}, {"adaptive": "yes"},
                 {"optimizer": ctx.model}),
        identity={"rho": 0.0},
    )


@register(
    "sam",
    family=Family.OPTIMIZER,
    kind=Kind.OPTIMIZER,
    paper=SHARPNESS_AWARE_MINIMIZATION,
    capabilities=Capabilities(needs_closure=True),
    sample=_sample,
)
class SAM(ClosureWrapper):
    """Sharpness-aware wrapper (ASAM with ``adaptive=True``); see ``reglab.card("sam")``."""

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        rho: float | Schedule = 0.05,
        adaptive: bool = False,
        eta: float | Schedule = 0.01,
    ) -> None:
        _check_group({"rho": rho, "adaptive": adaptive, "eta": eta})
        super().__init__(optimizer, {"rho": as_float(rho), "adaptive": adaptive, "eta": as_float(eta)})
        for group in self.param_groups:
            _check_group(group)

    def _step(self, closure: Callable[[], Any] | None, before: tuple[Action, ...]) -> Any:
        closure = self._require_closure(closure)
        loss = closure()
        groups = params_with_grad(self.param_groups)
        values = [(self._value(g, "rho"), g["adaptive"], self._value(g, "eta")) for g in self.param_groups]
        if any(ps and rho > 0 for (rho, _, _), ps in zip(values, groups)):
            entries = [(ps, grads_of(ps), rho, adaptive, eta)
                       for (rho, adaptive, eta), ps in zip(values, groups)]
            params = flat(groups)
            saved = snapshot(params)
            torch._foreach_add_(params, flat(_perturbations(entries)))
            closure()
            restore(params, saved)
        self._inner_step(before)
        return loss
