"""Group orthogonality penalty (GOR): filters orthonormal within each group, not across groups.

Equation::

    R(W) = λ · Σ_l Σ_{g=1..G} ‖G_{l,g} − I‖²_F

The rows (output units or filters) of each matrix W_l (conv kernels read as (out, in·k·k);
1-D tensors skipped) are split into G = ``groups`` contiguous blocks W_{l,g} of out/G rows, as
group normalization splits channels. G_{l,g} is the smaller Gram matrix of the block:
W_{l,g} W_{l,g}ᵀ when out/G <= columns, else W_{l,g}ᵀ W_{l,g}. The cost is out²·columns/G
instead of out²·columns for full soft orthogonality; ``groups=1`` is ``reglab.SoftOrthogonal``.
All blocks of all same-shape matrices go through one batched product.

Arguments:
    params: a selection (``reglab.select``), a module (its "weights" selection) or an iterable of
        tensors; at least one tensor with two or more dimensions, all finite.
    strength: λ >= 0, a float or a ``reglab.schedules`` schedule.
    groups: int >= 1 that divides the number of rows of every selected matrix.

Returns:
    ``forward()`` returns a scalar tensor, λ·R(W), in the parameters' dtype.

Example:
    >>> import torch, reglab as rl
    >>> w = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    >>> float(rl.GroupOrthogonal([w], strength=1.0, groups=2)())   # each pair repeats a row
    4.0
    >>> float(rl.GroupOrthogonal([w[[0, 2, 1, 3]]], strength=1.0, groups=2)())
    0.0

Reference:
    Yoav Kurtz, Noga Bar, Raja Giryes. Group Orthogonalization Regularization For Vision Models
    Adaptation and Robustness. BMVC 2023. arXiv:2306.10001.

Reading taken:
    Groups are contiguous blocks of rows and the smaller Gram matrix is used per block, as in the
    authors' public code (github.com/YoavKurtz/GOR, its within-group loss); unlike that code, a
    number of groups that does not divide the rows is an error, not silently reduced.

Traps:
    - ``groups`` must divide the rows of every selected matrix, classifier heads included;
      select the layers you mean (``reglab.select(model, predicate)``) when sizes differ.
    - No ½ factor, as in ``reglab.SoftOrthogonal``.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from reglab._core.registry import Family, Kind, Paper, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.schedules import Schedule
from reglab._core.selection import Selection
from reglab._core.validation import check_int
from reglab.penalties._matrix import MatrixPenalty, by_shape, matrices, orthogonality_residual

GROUP_ORTHOGONALIZATION = Paper(
    authors="Yoav Kurtz, Noga Bar, Raja Giryes",
    title="Group Orthogonalization Regularization For Vision Models Adaptation and Robustness",
    year=2023,
    arxiv="2306.10001",
)


def _check_groups(groups: int, shapes: Iterable[tuple[str, tuple[int, ...]]]) -> int:
    groups = check_int("groups", groups, low=1)
    for name, shape in shapes:
        if shape[0] % groups:
            raise ValueError(
                f"groups must divide the rows of every matrix, got groups={groups} for "
                f"{name!r} with {shape[0]} rows (shape {shape})"
            )
    return groups


def group_orthogonal(params: list[torch.Tensor], groups: int) -> torch.Tensor:
    """Σ_l Σ_g ‖G_{l,g} − I‖²_F over ``groups`` contiguous row blocks of each matrix."""
    mats = matrices(params)
    groups = _check_groups(groups, ((str(i), tuple(m.shape)) for i, m in enumerate(mats)))
    total = []
    for batch in by_shape(mats):
        b, rows, cols = batch.shape
        total.append(orthogonality_residual(batch.reshape(b * groups, rows // groups, cols)))
    return sum(total)


def _sample(ctx: SampleContext) -> Sample:
    return Sample(
        kwargs={"params": ctx.model, "strength": 0.1, "groups": 2},
        invalid=(
            {"strength": -0.1}, {"groups": 3}, {"groups": 0}, {"groups": 2.0},
            {"params": [torch.ones(3)]},
        ),
        identity={"strength": 0.0},
    )


@register(
    "group-orthogonal",
    family=Family.PARAMETER_PENALTY,
    kind=Kind.PENALTY,
    paper=GROUP_ORTHOGONALIZATION,
    sample=_sample,
)
class GroupOrthogonal(MatrixPenalty):
    """λ · Σ‖G_g − I‖²_F over row groups; see ``reglab.card("group-orthogonal")``."""

    def __init__(
        self,
        params: Selection | nn.Module | Iterable[torch.Tensor],
        strength: float | Schedule = 1e-4,
        groups: int = 2,
    ) -> None:
        super().__init__(params, strength)
        named = [(n, tuple(p.shape)) for n, p in self.selection.named if p.ndim >= 2]
        self.groups = _check_groups(groups, named)

    def value(self, params: list[torch.Tensor]) -> torch.Tensor:
        return group_orthogonal(params, self.groups)

    def extra_repr(self) -> str:
        return f"groups={self.groups}, {super().extra_repr()}"
