"""Nuclear-norm penalty: the sum of singular values of each selected weight matrix.

Equation::

    R(W) = λ · Σ_l ‖W_l‖_* = λ · Σ_l Σ_i σ_i(W_l)

over the matrices W_l of the selection (conv kernels read as (out, in·k·k); 1-D tensors are
skipped). It is the convex surrogate of rank, so it pushes each layer towards low rank. Its
gradient is U_l V_lᵀ from the reduced SVD W_l = U_l Σ V_lᵀ. Matrices of one shape go through
one batched ``torch.linalg.svdvals``.

Arguments:
    params: a selection (``reglab.select``), a module (its "weights" selection) or an iterable of
        tensors; at least one tensor with two or more dimensions, all finite.
    strength: λ >= 0, a float or a ``reglab.schedules`` schedule.

Returns:
    ``forward()`` returns a scalar tensor, λ·R(W), in the parameters' dtype.

Example:
    >>> import torch, reglab as rl
    >>> w = torch.diag(torch.tensor([3.0, -2.0]))
    >>> rl.Nuclear([w, torch.ones(2)], strength=0.5)()   # the 1-D tensor is skipped
    tensor(2.5000)

Reference:
    Christopher Scarvelis, Justin Solomon. Nuclear Norm Regularization for Deep Learning.
    NeurIPS 2024. arXiv:2405.14544.

Traps:
    - The paper penalizes the nuclear norm of the network's Jacobian, not of its weights; for one
      linear layer x ↦ Wx the two coincide, and the paper's key identity
      ‖AB‖_* = min ½(‖A‖²_F + ‖B‖²_F) is the bridge between weight and Jacobian penalties. This
      class is the weight (per-layer) form; the Jacobian form is an activity penalty.
    - One SVD per matrix per step: cost grows as rows·columns·min(rows, columns); measure it
      (benchmarks/bench_penalties.py) before using it on large layers.
    - The gradient U Vᵀ is not unique for rank-deficient matrices (a subgradient is returned).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from reglab._core.registry import Family, Kind, Paper, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.schedules import Schedule
from reglab._core.selection import Selection
from reglab.penalties._matrix import MatrixPenalty, by_shape, matrices

NUCLEAR_NORM = Paper(
    authors="Christopher Scarvelis, Justin Solomon",
    title="Nuclear Norm Regularization for Deep Learning",
    year=2024,
    arxiv="2405.14544",
)


def nuclear(params: list[torch.Tensor]) -> torch.Tensor:
    """Σ_l ‖W_l‖_* over the matrices of ``params`` (conv kernels flattened, 1-D skipped)."""
    return sum(torch.linalg.svdvals(batch).sum() for batch in by_shape(matrices(params)))


def _sample(ctx: SampleContext) -> Sample:
    return Sample(
        kwargs={"params": ctx.cnn, "strength": 0.1},
        invalid=({"strength": -0.1}, {"params": [torch.ones(3)]}, {"params": []}),
        identity={"strength": 0.0},
    )


@register(
    "nuclear",
    family=Family.PARAMETER_PENALTY,
    kind=Kind.PENALTY,
    paper=NUCLEAR_NORM,
    sample=_sample,
)
class Nuclear(MatrixPenalty):
    """λ · Σ‖W‖_* over the selection's matrices; see ``reglab.card("nuclear")``."""

    def __init__(
        self,
        params: Selection | nn.Module | Iterable[torch.Tensor],
        strength: float | Schedule = 1e-4,
    ) -> None:
        super().__init__(params, strength)

    def value(self, params: list[torch.Tensor]) -> torch.Tensor:
        return nuclear(params)
