"""Off-diagonal orthogonality penalty (BigGAN): decorrelate filters without fixing their norms.

Equation::

    R(W) = λ · Σ_l ‖W_l W_lᵀ ⊙ (1 − I)‖²_F = λ · Σ_l Σ_{i≠j} ⟨w_i, w_j⟩²

W_l are the selection's matrices with rows w_i = output units or filters (conv kernels read as
(out, in·k·k)); 1-D tensors are skipped. Only the off-diagonal entries of the row Gram matrix
are penalized, so the filters' norms are free. Matrices of one shape share one batched product.

Arguments:
    params: a selection (``reglab.select``), a module (its "weights" selection) or an iterable of
        tensors; at least one tensor with two or more dimensions, all finite.
    strength: λ >= 0, a float or a ``reglab.schedules`` schedule (see the traps for BigGAN's β).

Returns:
    ``forward()`` returns a scalar tensor, λ·R(W), in the parameters' dtype.

Example:
    >>> import torch, reglab as rl
    >>> w = torch.tensor([[1.0, 1.0], [1.0, 0.0]])   # <w_0, w_1> = 1, counted twice
    >>> float(rl.OffDiagonalOrthogonal([w], strength=1.0)())
    2.0
    >>> float(rl.OffDiagonalOrthogonal([3 * torch.eye(2)], strength=1.0)())  # norms are free
    0.0

Reference:
    Andrew Brock, Jeff Donahue, Karen Simonyan. Large Scale GAN Training for High Fidelity
    Natural Image Synthesis. ICLR 2019. arXiv:1809.11096 (section 3.1, orthogonal regularization).

Reading taken:
    The paper writes WᵀW; its official code takes the Gram of the rows of the flattened weight
    (out, fan_in), which is what this penalty does for Linear and conv layers alike.

Traps:
    - With more rows than columns (out > fan_in) the rows cannot all be orthogonal, so the
      penalty cannot reach 0; that is expected, it still decorrelates.
    - No ½ factor: the gradient is 4λ(WWᵀ ⊙ (1 − I))W. BigGAN's code adds 2β(WWᵀ ⊙ (1 − I))W
      to the gradient, the gradient of (β/2)·R: its β = 1e-4 is strength = 5e-5 here.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from reglab._core.registry import Family, Kind, Paper, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.schedules import Schedule
from reglab._core.selection import Selection
from reglab.penalties._matrix import MatrixPenalty, by_shape, eye_like, matrices

BIGGAN = Paper(
    authors="Andrew Brock, Jeff Donahue, Karen Simonyan",
    title="Large Scale GAN Training for High Fidelity Natural Image Synthesis",
    year=2019,
    arxiv="1809.11096",
)


def offdiag_orthogonal(params: list[torch.Tensor]) -> torch.Tensor:
    """Σ_l ‖W_l W_lᵀ ⊙ (1 − I)‖²_F over the matrices of ``params`` (rows = output units)."""
    total = []
    for batch in by_shape(matrices(params)):
        gram = batch @ batch.mT
        total.append((gram * (1 - eye_like(gram))).square().sum())
    return sum(total)


def _sample(ctx: SampleContext) -> Sample:
    return Sample(
        kwargs={"params": ctx.model, "strength": 0.1},
        invalid=({"strength": -0.1}, {"params": [torch.ones(3)]}),
        identity={"strength": 0.0},
    )


@register(
    "offdiag-orthogonal",
    family=Family.PARAMETER_PENALTY,
    kind=Kind.PENALTY,
    paper=BIGGAN,
    sample=_sample,
)
class OffDiagonalOrthogonal(MatrixPenalty):
    """λ · Σ‖WWᵀ ⊙ (1 − I)‖²_F; see ``reglab.card("offdiag-orthogonal")``."""

    def __init__(
        self,
        params: Selection | nn.Module | Iterable[torch.Tensor],
        strength: float | Schedule = 1e-4,
    ) -> None:
        super().__init__(params, strength)

    def value(self, params: list[torch.Tensor]) -> torch.Tensor:
        return offdiag_orthogonal(params)
