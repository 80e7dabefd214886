"""Proximal L1: soft-threshold the weights after each optimizer step, giving exact zeros.

Equation (per parameter group, after the inner optimizer's step)::

    w ← sign(w) · max(|w| − η·λ, 0)

η is the group's current learning rate and λ its ``reglab_l1_strength`` (``strength`` unless
set per group). With SGD inside and the full-batch loss f this is ISTA, proximal gradient descent
on f(w) + λ‖w‖₁, which converges to the Lasso solution; unlike an L1 term in the loss it sets
weights to exactly 0. It is computed as w − clamp(w, −ηλ, ηλ) with three ``torch._foreach_*``
calls per group. ``sparsity()`` reports the fraction of exact zeros reached.

Arguments:
    optimizer: the inner ``torch.optim.Optimizer``; it may be a closure-evaluating wrapper such
        as SAM (the threshold then follows SAM's step), and the closure is passed to it.
    strength: λ >= 0, a float or a schedule (``rl.schedules``) evaluated at the wrapper's step
        counter (written into every parameter group as ``reglab_l1_strength``).
    params: ``None`` (every parameter the optimizer updates) or a selection, module or iterable
        of tensors (a module means its "weights": no biases, norm layers or embeddings); only
        these tensors are thresholded.

Returns:
    ``step(closure=None)`` returns the inner step's result (the closure's loss, or ``None``).
    ``sparsity()`` returns the fraction of exact zeros over the thresholded tensors, in [0, 1].

Example:
    >>> import torch, reglab as rl
    >>> w = torch.nn.Parameter(torch.tensor([0.05, -0.3, 2.0]))
    >>> opt = rl.ProximalL1(torch.optim.SGD([w], lr=1.0), strength=0.1)
    >>> w.grad = torch.zeros(3)
    >>> opt.step()
    >>> w.data
    tensor([ 0.0000, -0.2000,  1.9000])
    >>> round(opt.sparsity(), 3)
    0.333

Reference:
    Rahul Parhi, Robert D. Nowak. Deep Learning Meets Sparse Regularization: A Signal Processing
    Perspective. IEEE Signal Processing Magazine, 2023. arXiv:2301.09554 (sparse regularization
    of neural networks; soft-thresholding is the proximal operator of the ℓ1 norm).

Traps:
    - The threshold η·λ uses the learning rate, as ISTA does; with Adam inside the gradient step
      is rescaled per coordinate but the threshold is not, so λ is no longer the Lasso's α.
    - Only parameters with a gradient are thresholded (those the inner step updated).
    - The strength matches scikit-learn's ``Lasso(alpha=λ)`` when the loss is the mean
      ½‖y − Xw‖²/n, i.e. ``0.5 * F.mse_loss(X @ w, y)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from reglab._core.registry import Family, Kind, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.schedules import Schedule
from reglab._core.selection import Selection, optimizer_selection
from reglab.optim._wrapper import Action, OptimizerWrapper, as_float, check_hyper
from reglab.penalties.elastic_net import SPARSE_REGULARIZATION

GROUP_KEY = "reglab_l1_strength"


def soft_threshold_(params: list[torch.Tensor], threshold: float) -> None:
    """w ← sign(w)·max(|w| − threshold, 0) in place, as w − clamp(w, −t, t) with foreach calls."""
    if params and threshold > 0:
        inside = torch._foreach_clamp_min(params, -threshold)
        torch._foreach_clamp_max_(inside, threshold)
        torch._foreach_sub_(params, inside)


def _sample(ctx: SampleContext) -> Sample:
    return Sample(
        kwargs={"optimizer": ctx.optimizer(), "strength": 0.01},
        invalid=(
            {"strength": -0.1}, {"strength": float("nan")}, {"optimizer": ctx.model},
            {"params": [torch.zeros(2, 2)]},
        ),
        identity={"strength": 0.0},
    )


@register(
    "proximal-l1",
    family=Family.PARAMETER_PENALTY,
    kind=Kind.OPTIMIZER,
    paper=SPARSE_REGULARIZATION,
    sample=_sample,
)
class ProximalL1(OptimizerWrapper):
    """Soft-threshold by η·λ after each inner step; see ``reglab.card("proximal-l1")``."""

    forwards_closure = True
    key = GROUP_KEY  # the param_groups entry that holds the strength

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        strength: float | Schedule = 1e-4,
        params: Selection | nn.Module | Iterable[torch.Tensor] | None = None,
    ) -> None:
        lam = check_hyper("strength", strength)
        super().__init__(optimizer, {self.key: as_float(lam)})
        for group in self.param_groups:
            check_hyper("strength", group[self.key])
        self._only = optimizer_selection(optimizer, params)

    def _targets(self, group: dict[str, Any], with_grad: bool) -> list[torch.Tensor]:
        return [p for p in group["params"]
                if (p.grad is not None or not with_grad) and (self._only is None or id(p) in self._only)]

    def _step(self, closure: Callable[[], Any] | None, before: tuple[Action, ...]) -> Any:
        if self._closure_below():  # outer rewrites run inside, before the innermost step
            loss = self.optimizer.step(closure, before_inner_step=before)
        else:
            for action in before:
                action()
            loss = self.optimizer.step() if closure is None else self.optimizer.step(torch.enable_grad()(closure))
        for group in self.param_groups:
            lam = self._value(group, self.key)
            if lam:
                self._prox(self._targets(group, with_grad=True), float(group["lr"]) * lam)
        return loss

    def _prox(self, tensors: list[torch.Tensor], threshold: float) -> None:
        """The proximal step of the penalty, in place: soft-thresholding by ``threshold``."""
        soft_threshold_(tensors, threshold)

    @torch.no_grad()
    def sparsity(self) -> float:
        """Fraction of exact zeros over the tensors this wrapper thresholds."""
        params = [p for g in self.param_groups for p in self._targets(g, with_grad=False)]
        zeros = torch.stack([(p == 0).sum() for p in params]).sum()
        return float(zeros) / sum(p.numel() for p in params)

    def __repr__(self) -> str:
        chosen = "all" if self._only is None else f"{len(self._only)} tensors"
        return (f"{type(self).__name__}({type(self.optimizer).__name__}, params={chosen}, "
                f"strength={[g[GROUP_KEY] for g in self.param_groups]})")
