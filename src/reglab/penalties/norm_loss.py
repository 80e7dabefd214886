"""Norm loss: pull every neuron's (filter's) weight vector towards unit ℓ2 norm.

Equation::

    R(W) = λ · Σ_l Σ_i (1 − ‖w_{l,i}‖₂)²

w_{l,i} is row i of matrix l: the incoming weights of output unit i of a Linear layer, or filter
i (in·k·k values) of a conv kernel; 1-D tensors (biases, norm scales) are skipped. The penalty is
zero exactly when every row lies on the unit sphere (the oblique manifold), so it is a soft
constraint on the rows' norms that leaves their directions free: the diagonal of
``reglab.SoftOrthogonal``'s ‖WWᵀ − I‖², without the off-diagonal terms. The paper uses it in
place of weight decay. Computed with one batched row-norm per matrix.

Arguments:
    params: a selection (``reglab.select``), a module (its "weights" selection) or an iterable of
        tensors; at least one tensor with two or more dimensions, all finite.
    strength: λ >= 0, a float or a ``reglab.schedules`` schedule.

Returns:
    ``forward()`` returns a scalar tensor, λ·R(W), in the parameters' dtype.

Example:
    >>> import torch, reglab as rl
    >>> w = torch.tensor([[0.6, 0.8], [3.0, 4.0], [0.0, 0.0]])   # row norms 1, 5, 0
    >>> float(rl.NormLoss([w], strength=1.0)())                    # 0 + 16 + 1
    17.0

Reference:
    Theodoros Georgiou, Sebastian Schmitt, Thomas Bäck, Wei Chen, Michael Lew. Norm Loss: An
    efficient yet effective regularization method for deep neural networks. ICPR 2020.
    arXiv:2103.06583.

Reading taken:
    The penalty on the norm, (1 − ‖w‖)², as in the catalog ("pushes each weight vector to have a
    norm close to one", the abstract), not on the squared norm (1 − ‖w‖²)²: the paper's equation
    could not be read offline when this was built. Both vanish on the same set; this one has a
    gradient of norm 2|1 − ‖w‖| per row, linear in the distance to the sphere, where the squared
    form grows with the cube of the norm for large rows. Sum over rows and layers, no mean.

Traps:
    - The gradient at a zero row is taken as 0 (the norm's subgradient), so a row that is exactly
      zero is not pushed back to the sphere; initialize as usual.
    - Use it instead of weight decay, not with it: decay pulls norms to 0, this pulls them to 1.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from reglab._core.registry import Family, Kind, Paper, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.schedules import Schedule
from reglab._core.selection import Selection
from reglab.penalties._matrix import MatrixPenalty, matrices

NORM_LOSS = Paper(
    authors="Theodoros Georgiou, Sebastian Schmitt, Thomas Bäck, Wei Chen, Michael Lew",
    title="Norm Loss: An efficient yet effective regularization method for deep neural networks",
    year=2020,
    arxiv="2103.06583",
)


def norm_loss(params: list[torch.Tensor]) -> torch.Tensor:
    """Σ_l Σ_i (1 − ‖w_{l,i}‖₂)² over the rows of the matrix views of ``params``."""
    terms = [(1.0 - torch.linalg.vector_norm(m, dim=1)).square().sum() for m in matrices(params)]
    return torch.stack(terms).sum()


def _sample(ctx: SampleContext) -> Sample:
    return Sample(
        kwargs={"params": ctx.model, "strength": 0.1},
        invalid=(
            {"strength": -0.1}, {"strength": float("inf")}, {"params": [torch.ones(3)]},
            {"params": [torch.full((2, 2), float("nan"))]},
        ),
        identity={"strength": 0.0},
    )


@register(
    "norm-loss",
    family=Family.PARAMETER_PENALTY,
    kind=Kind.PENALTY,
    paper=NORM_LOSS,
    sample=_sample,
)
class NormLoss(MatrixPenalty):
    """λ · Σ_i (1 − ‖w_i‖)² over rows; see ``reglab.card("norm-loss")``."""

    def __init__(
        self,
        params: Selection | nn.Module | Iterable[torch.Tensor],
        strength: float | Schedule = 1e-4,
    ) -> None:
        super().__init__(params, strength)

    def value(self, params: list[torch.Tensor]) -> torch.Tensor:
        return norm_loss(params)
