"""Proximal group lasso: block soft-threshold groups of weights after each step, giving zero groups.

Equation (per parameter group, after the inner optimizer's step; g runs over the groups of each
tensor, cut by ``groups`` as in ``reglab.GroupLasso``)::

    w_g ← w_g · max(0, 1 − η·λ·√|g| / ‖w_g‖₂)

η is the group's current learning rate and λ its ``reglab_group_lasso_strength`` (``strength``
unless set per group). With SGD inside and the full-batch loss f this is proximal gradient
descent on f(w) + λ Σ_g √|g|‖w_g‖₂: whole rows (neurons, filters), columns (inputs) or kernels
become exactly zero, where ``reglab.ProximalL1`` zeroes scattered single weights.
``sparsity()`` reports the fraction of zero groups of each thresholded tensor.

Arguments:
    optimizer: the inner ``torch.optim.Optimizer``; it may be a closure-evaluating wrapper such
        as SAM (the threshold then follows its step), and the closure is passed to it.
    strength: λ >= 0, a float or a schedule (``rl.schedules``) evaluated at the wrapper's step
        counter (written into every parameter group as ``reglab_group_lasso_strength``).
    groups: a ``reglab.GroupBy`` (``"rows"`` default, ``"columns"``, ``"kernels"``).
    params: ``None`` (every parameter of two or more dimensions the optimizer updates) or a
        selection, module or iterable of tensors (a module means its "weights": no biases, norm
        layers or embeddings); only these are thresholded. 1-D tensors are never thresholded.

Returns:
    ``step(closure=None)`` returns the inner step's result (the closure's loss, or ``None``).
    ``sparsity()`` returns ``{name: fraction of zero groups}`` per thresholded tensor (names from
    the selection, or ``"group{i}.param{j}"`` when ``params`` is ``None``).

Example:
    >>> import torch, reglab as rl
    >>> w = torch.nn.Parameter(torch.tensor([[0.3, 0.4], [3.0, 4.0]]))
    >>> opt = rl.ProximalGroupLasso(torch.optim.SGD([w], lr=1.0), strength=1.0)
    >>> w.grad = torch.zeros(2, 2)
    >>> opt.step()          # threshold √2 per row: row norms 0.5 → 0, 5 → 5 − √2
    >>> w.data
    tensor([[0.0000, 0.0000],
            [2.1515, 2.8686]])
    >>> opt.sparsity()
    {'group0.param0': 0.5}

Reference:
    Yehonathan Refael, Iftach Arbel, Wasim Huleihel. Learning k-Level Structured Sparse Neural
    Networks Using Group Envelope Regularization. 2022. arXiv:2212.12921 (proximal training for
    structured sparsity; group lasso is its baseline). Block soft-thresholding is the prox of the
    group lasso (Yuan & Lin 2006).

Traps:
    - The threshold η·λ uses the learning rate, as proximal gradient does; with Adam inside the
      gradient step is rescaled per coordinate but the threshold is not.
    - Only parameters with a gradient are thresholded (those the inner step updated).
    - With ``0.5 * ((Y - X @ W.T) ** 2).sum(1).mean()`` as loss and ``groups="columns"`` on a
      Linear weight W (tasks, features), λ·√tasks is scikit-learn's ``MultiTaskLasso(alpha=...)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from reglab._core.registry import Family, Kind, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.schedules import Schedule
from reglab._core.selection import Selection, as_selection
from reglab._core.validation import check_choice
from reglab.optim.proximal_l1 import ProximalL1
from reglab.penalties.group_lasso import (
    GROUP_ENVELOPE,
    GroupBy,
    block_soft_threshold_,
    zero_group_fraction,
)

GROUP_KEY = "reglab_group_lasso_strength"


def _sample(ctx: SampleContext) -> Sample:
    return Sample(
        kwargs={"optimizer": ctx.optimizer(), "strength": 0.01},
        invalid=(
            {"strength": -0.1}, {"strength": float("nan")}, {"optimizer": ctx.model},
            {"params": [torch.zeros(2, 2)]}, {"groups": "filters"},
        ),
        identity={"strength": 0.0},
    )


@register(
    "proximal-group-lasso",
    family=Family.PARAMETER_PENALTY,
    kind=Kind.OPTIMIZER,
    paper=GROUP_ENVELOPE,
    sample=_sample,
)
class ProximalGroupLasso(ProximalL1):
    """Block soft-threshold by η·λ·√|g| after each inner step; see ``reglab.card("proximal-group-lasso")``.

    The step is ProximalL1's with the block soft-thresholding of ``groups`` as the proximal step,
    over the selected tensors with two or more dimensions (biases have no groups).
    """

    key = GROUP_KEY

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        strength: float | Schedule = 1e-4,
        groups: GroupBy | str = GroupBy.ROWS,
        params: Selection | nn.Module | Iterable[torch.Tensor] | None = None,
    ) -> None:
        self.groups = check_choice("groups", groups, GroupBy)
        super().__init__(optimizer, strength, params)
        self._names = {} if params is None else {id(p): n for n, p in as_selection(params).named}

    def _targets(self, group: dict[str, Any], with_grad: bool) -> list[torch.Tensor]:
        return [p for p in super()._targets(group, with_grad) if p.ndim >= 2]

    def _prox(self, tensors: list[torch.Tensor], threshold: float) -> None:
        block_soft_threshold_(tensors, threshold, self.groups)

    def sparsity(self) -> dict[str, float]:
        """``{name: fraction of exactly zero groups}`` for each tensor this wrapper thresholds."""
        out = {}
        for i, group in enumerate(self.param_groups):
            chosen = {id(p) for p in self._targets(group, with_grad=False)}
            for j, p in enumerate(group["params"]):
                if id(p) in chosen:
                    out[self._names.get(id(p), f"group{i}.param{j}")] = zero_group_fraction(p, self.groups)
        return out

    def __repr__(self) -> str:
        chosen = "all" if self._only is None else f"{len(self._only)} tensors"
        return (f"{type(self).__name__}({type(self.optimizer).__name__}, params={chosen}, "
                f"groups={self.groups.value}, strength={[g[GROUP_KEY] for g in self.param_groups]})")
