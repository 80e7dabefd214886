"""Soft orthogonality penalty: each weight matrix's Gram matrix should be the identity.

Equation::

    R(W) = λ · Σ_l ‖G_l − I‖²_F,   G_l = W_l W_lᵀ if rows <= columns, else W_lᵀ W_l

W_l are the selection's matrices with rows = output units or filters (conv kernels read as
(out, in·k·k)); 1-D tensors are skipped. For a wide matrix this asks the rows (filters) to be
orthonormal, for a tall one the columns: the smaller Gram matrix is the one that can equal I.
Matrices of one shape are handled in one batched product.

Arguments:
    params: a selection (``reglab.select``), a module (its "weights" selection) or an iterable of
        tensors; at least one tensor with two or more dimensions, all finite.
    strength: λ >= 0, a float or a ``reglab.schedules`` schedule.

Returns:
    ``forward()`` returns a scalar tensor, λ·R(W), in the parameters' dtype.

Example:
    >>> import torch, reglab as rl
    >>> q = torch.eye(3)[:2]                       # orthonormal rows
    >>> float(rl.SoftOrthogonal([q], strength=1.0)())
    0.0
    >>> float(rl.SoftOrthogonal([2 * q], strength=1.0)())   # G = 4I: 2·(4 − 1)²
    18.0

Reference:
    El Mehdi Achour, François Malgouyres, Franck Mamalet. Existence, Stability and Scalability of
    Orthogonal Convolutional Neural Networks. JMLR 23(347), 2022. arXiv:2108.05623 (row / column
    orthogonality of a matrix by its size; stability of the soft orthogonality penalty). The
    form λ‖WᵀW − I‖²_F is also the baseline of Brock et al., "Large Scale GAN Training for High
    Fidelity Natural Image Synthesis" (2019), whose off-diagonal variant is
    ``reglab.OffDiagonalOrthogonal``.

Reading taken:
    Achour et al. analyse the orthogonality of the whole convolution operator; this penalty is
    its common matrix reading on the flattened kernel (out, in·k·k), with their rule for which
    Gram matrix to use. The convolutional (kernel-with-itself) form is not implemented here.

Traps:
    - The penalty also fixes the norms of the rows (or columns) to 1, which fights with weight
      decay and with layers followed by normalization; ``reglab.OffDiagonalOrthogonal`` only
      decorrelates.
    - No ½ factor: the gradient is 4λ(G − I)W (for the row Gram).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from reglab._core.registry import Family, Kind, Paper, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.schedules import Schedule
from reglab._core.selection import Selection
from reglab.penalties._matrix import MatrixPenalty, by_shape, matrices, orthogonality_residual

ORTHOGONAL_CNNS = Paper(
    authors="El Mehdi Achour, François Malgouyres, Franck Mamalet",
    title="Existence, Stability and Scalability of Orthogonal Convolutional Neural Networks",
    year=2022,
    arxiv="2108.05623",
)


def soft_orthogonal(params: list[torch.Tensor]) -> torch.Tensor:
    """Σ_l ‖G_l − I‖²_F with G_l the smaller Gram matrix of each matrix of ``params``."""
    return sum(orthogonality_residual(batch) for batch in by_shape(matrices(params)))


def _sample(ctx: SampleContext) -> Sample:
    return Sample(
        kwargs={"params": ctx.cnn, "strength": 0.1},
        invalid=({"strength": -0.1}, {"params": [torch.ones(3)]}),
        identity={"strength": 0.0},
    )


@register(
    "soft-orthogonal",
    family=Family.PARAMETER_PENALTY,
    kind=Kind.PENALTY,
    paper=ORTHOGONAL_CNNS,
    sample=_sample,
)
class SoftOrthogonal(MatrixPenalty):
    """λ · Σ‖G − I‖²_F over the selection's matrices; see ``reglab.card("soft-orthogonal")``."""

    def __init__(
        self,
        params: Selection | nn.Module | Iterable[torch.Tensor],
        strength: float | Schedule = 1e-4,
    ) -> None:
        super().__init__(params, strength)

    def value(self, params: list[torch.Tensor]) -> torch.Tensor:
        return soft_orthogonal(params)
