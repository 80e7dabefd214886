"""Group lasso: the sum of the ℓ2 norms of groups of weights (whole neurons, inputs or kernels).

Equation::

    R(w) = λ · Σ_t Σ_{g ∈ groups(t)} √|g| · ‖w_g‖₂

Each selected tensor t of two or more dimensions (1-D tensors such as biases are skipped) is cut
into groups by ``groups``:

- ``GroupBy.ROWS`` (default): one group per output unit, i.e. a row of a Linear weight
  (out, in) or a whole filter (in, k, k) of a conv kernel (out, in, k, k);
- ``GroupBy.COLUMNS``: one group per input unit, i.e. a column of a Linear weight or an input
  channel of a conv kernel (out, k, k), across all filters;
- ``GroupBy.KERNELS``: one group per 2-D kernel w[o, i] (k, k) of a conv; for a matrix every
  entry is a group of one, so the penalty is L1.

√|g| is the usual size weight (Yuan & Lin 2006) that puts groups of different sizes on one
footing. In the loss the penalty shrinks whole groups but, as with L1, (sub)gradient steps leave
them near zero, not at zero; for exact zero groups use the proximal form,
``reglab.ProximalGroupLasso``, whose step is the prox of this penalty, block soft-thresholding::

    w_g ← w_g · max(0, 1 − t·√|g| / ‖w_g‖₂),    t = η·λ

``block_soft_threshold_`` is that operator (``GroupLasso.prox_(t)`` applies it to the selection).
``group_norms(p, groups)`` returns the norms ‖w_g‖₂ of one tensor, flattened.

Arguments:
    params: a selection (``reglab.select``), a module (its "weights" selection: no biases, norm
        layers or embeddings) or an iterable of tensors; at least one tensor with two or more
        dimensions, all finite.
    strength: λ >= 0, a float or a ``reglab.schedules`` schedule.
    groups: a ``GroupBy`` (or its value ``"rows"``, ``"columns"``, ``"kernels"``).

Returns:
    ``forward()`` returns a scalar tensor, λ·R(w), in the parameters' dtype.

Example:
    >>> import torch, reglab as rl
    >>> w = torch.tensor([[3.0, 4.0], [0.0, 0.0]])
    >>> round(float(rl.GroupLasso([w], strength=1.0)()), 4)   # √2·5 + √2·0
    7.0711
    >>> _ = rl.GroupLasso([w], strength=1.0).prox_(0.5 * 2 ** -0.5)  # shrink each row's norm by 0.5
    >>> w
    tensor([[2.7000, 3.6000],
            [0.0000, 0.0000]])

Reference:
    Yehonathan Refael, Iftach Arbel, Wasim Huleihel. Learning k-Level Structured Sparse Neural
    Networks Using Group Envelope Regularization. 2022. arXiv:2212.12921 (the group-lasso
    baseline of its structured-sparsity family; the weighted group envelope is
    ``reglab show group-envelope``). Group lasso: Ming Yuan, Yi Lin, Model selection and estimation in regression with
    grouped variables, JRSS-B 2006; for neural networks Wen et al., Learning Structured Sparsity
    in Deep Neural Networks, NeurIPS 2016.

Traps:
    - A dead neuron shows as a zero row only under ``GroupBy.ROWS``; its bias is not in the group
      (biases are left out), so the unit still outputs act(b): prune the bias with the row.
    - The gradient of ‖w_g‖₂ at w_g = 0 is taken as 0 (a subgradient), so a zero group stays zero
      under the penalty alone.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from enum import Enum

import torch
from torch import nn

from reglab._core.registry import Family, Kind, Paper, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.schedules import Schedule
from reglab._core.selection import Selection
from reglab._core.validation import check_choice, check_number
from reglab.penalties._matrix import MatrixPenalty, matrices

GROUP_ENVELOPE = Paper(
    authors="Yehonathan Refael, Iftach Arbel, Wasim Huleihel",
    title="Learning k-Level Structured Sparse Neural Networks Using Group Envelope Regularization",
    year=2022,
    arxiv="2212.12921",
)


class GroupBy(Enum):
    """How a tensor is cut into groups: output units, input units, or 2-D conv kernels."""

    ROWS = "rows"
    COLUMNS = "columns"
    KERNELS = "kernels"


def _reduce_dims(p: torch.Tensor, groups: GroupBy) -> tuple[int, ...]:
    """The dimensions a group spans (the norm is taken over them)."""
    if groups is GroupBy.ROWS:
        return tuple(range(1, p.ndim))
    if groups is GroupBy.COLUMNS:
        return (0, *range(2, p.ndim))
    return tuple(range(2, p.ndim))  # KERNELS: empty for a matrix (groups of one)


def group_size(p: torch.Tensor, groups: GroupBy) -> int:
    """|g|: the number of entries of one group of ``p`` (all groups of a tensor have one size)."""
    return math.prod(p.shape[d] for d in _reduce_dims(p, groups))


def group_norms(p: torch.Tensor, groups: GroupBy | str = GroupBy.ROWS) -> torch.Tensor:
    """‖w_g‖₂ for every group of ``p`` (two or more dimensions), flattened."""
    groups = check_choice("groups", groups, GroupBy)
    if p.ndim < 2:
        raise ValueError(f"group_norms needs a tensor of 2 or more dimensions, got shape {tuple(p.shape)}")
    dims = _reduce_dims(p, groups)
    norms = p.abs() if not dims else torch.linalg.vector_norm(p, dim=dims)
    return norms.reshape(-1)


def group_lasso(params: list[torch.Tensor], groups: GroupBy | str = GroupBy.ROWS) -> torch.Tensor:
    """Σ_t Σ_g √|g|·‖w_g‖₂ over the tensors of two or more dimensions of ``params``."""
    groups = check_choice("groups", groups, GroupBy)
    terms = []
    for p in params:
        if p.ndim >= 2:
            terms.append(math.sqrt(group_size(p, groups)) * group_norms(p, groups).sum())
    if not terms:
        matrices(params)  # raises: no tensor of two or more dimensions
    return torch.stack(terms).sum()


@torch.no_grad()
def block_soft_threshold_(
    params: list[torch.Tensor], threshold: float, groups: GroupBy | str = GroupBy.ROWS
) -> None:
    """w_g ← w_g·max(0, 1 − threshold·√|g| / ‖w_g‖₂) in place; 1-D tensors are left alone.

    The prox of ``threshold · Σ_g √|g|‖w_g‖₂``: groups with ‖w_g‖₂ <= threshold·√|g| become
    exactly zero.
    """
    groups = check_choice("groups", groups, GroupBy)
    if threshold <= 0:
        return
    for p in params:
        if p.ndim < 2:
            continue
        dims = _reduce_dims(p, groups)
        t = threshold * math.sqrt(group_size(p, groups))
        norms = p.abs() if not dims else torch.linalg.vector_norm(p, dim=dims, keepdim=True)
        # max(0, 1 − t/‖w_g‖): a zero norm gives 1 − inf → clamped to 0, the group stays 0
        p.mul_((1.0 - t / norms).clamp_(min=0.0))


def zero_group_fraction(p: torch.Tensor, groups: GroupBy | str = GroupBy.ROWS) -> float:
    """The fraction of groups of ``p`` that are exactly zero."""
    with torch.no_grad():
        return float((group_norms(p, groups) == 0).double().mean())


def _sample(ctx: SampleContext) -> Sample:
    return Sample(
        kwargs={"params": ctx.model, "strength": 0.1, "groups": GroupBy.COLUMNS},
        invalid=(
            {"strength": -0.1}, {"strength": float("inf")}, {"groups": "filters"},
            {"params": [torch.ones(3)]}, {"params": [torch.full((2, 2), float("nan"))]},
        ),
        identity={"strength": 0.0},
    )


@register(
    "group-lasso",
    family=Family.PARAMETER_PENALTY,
    kind=Kind.PENALTY,
    paper=GROUP_ENVELOPE,
    sample=_sample,
)
class GroupLasso(MatrixPenalty):
    """λ · Σ_g √|g|·‖w_g‖₂ over groups; see ``reglab.card("group-lasso")``."""

    def __init__(
        self,
        params: Selection | nn.Module | Iterable[torch.Tensor],
        strength: float | Schedule = 1e-4,
        groups: GroupBy | str = GroupBy.ROWS,
    ) -> None:
        super().__init__(params, strength)
        self.groups = check_choice("groups", groups, GroupBy)

    def value(self, params: list[torch.Tensor]) -> torch.Tensor:
        return group_lasso(params, self.groups)

    def prox_(self, threshold: float) -> GroupLasso:
        """Block soft-threshold the selection by ``threshold`` (η·λ in a proximal step), in place."""
        threshold = check_number("threshold", threshold, low=0.0)
        block_soft_threshold_(self.selection.params(), threshold, self.groups)
        return self

    def sparsity(self) -> dict[str, float]:
        """For each selected tensor of two or more dimensions, the fraction of exactly zero groups."""
        return {n: zero_group_fraction(p, self.groups) for n, p in self.selection.named if p.ndim >= 2}

    def extra_repr(self) -> str:
        return f"groups={self.groups.value}, {super().extra_repr()}"
