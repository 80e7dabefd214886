"""Matrix views of parameters, shared by the nuclear, spectral and orthogonality penalties.

A tensor of two or more dimensions is read as the matrix (rows = output units or filters,
columns = everything else): a conv kernel (out, in, k, k) becomes (out, in·k·k), as in spectral
normalization. 1-D tensors (biases, norm scales) are skipped by ``matrices`` and listed by
``vectors``. ``by_shape`` stacks tensors (matrices or vectors) of one shape, dtype and device into
a batch so that SVDs and Gram products run batched instead of in a Python loop; a shape that
occurs once is a view, not a copy.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from reglab._core.schedules import Schedule
from reglab._core.selection import Selection
from reglab.penalties._base import ParameterPenalty


def as_matrix(p: torch.Tensor) -> torch.Tensor:
    """``p`` as a (rows, columns) matrix: (out, in·k·k) for a conv kernel; a view when possible."""
    return p if p.ndim == 2 else p.reshape(p.shape[0], -1)


def matrices(params: Iterable[torch.Tensor]) -> list[torch.Tensor]:
    """The matrix views of the tensors with two or more dimensions, in order; 1-D are skipped."""
    mats = [as_matrix(p) for p in params if p.ndim >= 2]
    if not mats:
        raise ValueError(
            "params selects no matrices (tensors with 2 or more dimensions); matrix penalties "
            "skip 1-D tensors such as biases and norm scales"
        )
    return mats


def vectors(params: Iterable[torch.Tensor]) -> list[torch.Tensor]:
    """The 1-D tensors (biases, norm scales), in order; possibly none."""
    return [p for p in params if p.ndim == 1]


def by_shape(mats: list[torch.Tensor]) -> list[torch.Tensor]:
    """Batches (B, *shape) of the tensors sharing shape, dtype and device; (B, rows, cols) for matrices."""
    groups: dict[tuple[object, ...], list[torch.Tensor]] = {}
    for m in mats:
        groups.setdefault((tuple(m.shape), m.dtype, m.device), []).append(m)
    return [g[0].unsqueeze(0) if len(g) == 1 else torch.stack(g) for g in groups.values()]


def eye_like(batch: torch.Tensor) -> torch.Tensor:
    """The identity of the last dimension of ``batch``, in its dtype and device."""
    return torch.eye(batch.shape[-1], dtype=batch.dtype, device=batch.device)


class MatrixPenalty(ParameterPenalty):
    """A penalty over the matrices of the selection; refuses a selection without any."""

    def __init__(
        self,
        params: Selection | nn.Module | Iterable[torch.Tensor],
        strength: float | Schedule,
    ) -> None:
        super().__init__(params, strength)
        try:
            self.num_matrices = len(matrices(self.selection))
        except ValueError as err:
            raise ValueError(f"{err}; got shapes {[tuple(p.shape) for p in self.selection]}") from None

    def matrices(self) -> list[torch.Tensor]:
        return matrices(self.selection)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, matrices={self.num_matrices}"


def orthogonality_residual(batch: torch.Tensor) -> torch.Tensor:
    """Σ over the batch of ‖G − I‖²_F, G the smaller Gram matrix of each (rows, columns) matrix.

    G = W Wᵀ (rows orthonormal) when rows <= columns, else Wᵀ W (columns orthonormal): the
    smaller Gram is the one that can equal the identity.
    """
    rows, cols = batch.shape[-2:]
    gram = batch @ batch.mT if rows <= cols else batch.mT @ batch
    return (gram - eye_like(gram)).square().sum()
