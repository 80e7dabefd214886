"""Minimum hyperspherical energy (MHE): spread each layer's neurons evenly over the unit sphere.

Equation (per matrix W_l with N rows w_i; ŵ_i = w_i / ‖w_i‖)::

    E_s(W) = 1/(N(N−1)) · Σ_{i≠j} f_s(‖ŵ_i − ŵ_j‖₂),    f_s(z) = z^{−s} (s > 0),  log(1/z) (s = 0)

    R = λ · Σ_l E_s(W_l)

Rows are output units of a Linear weight or filters of a conv kernel (out, in·k·k); 1-D tensors
are skipped. This is the Thomson problem's energy: the repulsion between neurons is lowest when
they are spread evenly, which reduces redundant neurons. ``half_space=True`` is the paper's
half-space MHE: the energy of the 2N points {ŵ_i} ∪ {−ŵ_i}, so that a neuron and the negation of
another (which span the same line) also repel. Computed from the Gram matrix of the normalized
rows, ‖ŵ_i − ŵ_j‖² = 2 − 2ŵ_i·ŵ_j, one N×N product per layer (the half-space energy reuses
it: ‖ŵ_i + ŵ_j‖² = 2 + 2ŵ_i·ŵ_j).

Arguments:
    params: a selection (``reglab.select``), a module (its "weights" selection) or an iterable of
        tensors; at least one tensor with two or more dimensions and two or more rows, all finite.
    strength: λ >= 0, a float or a ``reglab.schedules`` schedule.
    power: s >= 0; 0 is the logarithmic energy, the paper uses s in {0, 1, 2}.
    half_space: bool, the half-space variant (default False).

Returns:
    ``forward()`` returns a scalar tensor, λ·R, in the parameters' dtype.

Example:
    >>> import torch, reglab as rl
    >>> w = torch.tensor([[2.0, 0.0], [0.0, 3.0]])       # orthogonal rows: ‖ŵ_1 − ŵ_2‖ = √2
    >>> round(float(rl.HypersphericalEnergy([w], strength=1.0, power=2.0)()), 4)   # (√2)^−2
    0.5
    >>> round(float(rl.HypersphericalEnergy([w], strength=1.0, power=0.0)()), 4)   # log(1/√2)
    -0.3466

Reference:
    Weiyang Liu, Rongmei Lin, Zhen Liu, Lixin Liu, Zhiding Yu, Bo Dai, Le Song. Learning towards
    Minimum Hyperspherical Energy. NeurIPS 2018. arXiv:1805.09298. Official code:
    github.com/wy1iu/MHE (read to confirm the normalization and the half-space variant).

Reading taken:
    The energy is averaged over the N(N−1) ordered pairs, as the authors' code averages over the
    N(N−1)/2 unordered ones (the same number), rather than summed as in the paper's equation, so
    that λ does not have to shrink with the square of the width. In the half-space variant the
    2N points include each pair (ŵ_i, −ŵ_i), at the constant distance 2, as in that code.

Traps:
    - Coincident neurons give an infinite energy; the squared distance is floored at ``eps`` =
      1e-6 (the authors' code adds 1e-4 to the squared norms instead), so the value stays finite
      but its gradient is then 0 for that pair.
    - Zero rows have no direction: their norm is floored at ``eps`` too, making ŵ = 0.
    - With s = 0 the energy is negative (log of distances above 1); only its changes matter.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from reglab._core.registry import Family, Kind, Paper, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.schedules import Schedule
from reglab._core.selection import Selection
from reglab._core.validation import check_bool, check_number
from reglab.penalties._matrix import MatrixPenalty, matrices

MHE = Paper(
    authors="Weiyang Liu, Rongmei Lin, Zhen Liu, Lixin Liu, Zhiding Yu, Bo Dai, Le Song",
    title="Learning towards Minimum Hyperspherical Energy",
    year=2018,
    arxiv="1805.09298",
)

EPS = 1e-6


def _f(sq: torch.Tensor, power: float) -> torch.Tensor:
    """f_s of the distance, from the squared distance: z^−s = (z²)^(−s/2), log(1/z) = −½ log z²."""
    if power == 0:
        return -0.5 * sq.log()
    if power == 1:
        return sq.rsqrt()
    if power == 2:
        return sq.reciprocal()
    return sq.pow(-0.5 * power)


def _layer_energy(m: torch.Tensor, power: float, half_space: bool) -> torch.Tensor:
    unit = m / torch.linalg.vector_norm(m, dim=1, keepdim=True).clamp_min(EPS)
    n = unit.shape[0]
    gram = unit @ unit.T
    # the diagonal (i = j) is set to distance² 1 and its f_s(1) (1, or 0 for the log) taken off
    diag = torch.eye(n, dtype=torch.bool, device=m.device)
    one = torch.ones((), dtype=m.dtype, device=m.device)
    f_one = 0.0 if power == 0 else 1.0
    near = _f(torch.where(diag, one, (2.0 - 2.0 * gram).clamp_min(EPS)), power).sum() - n * f_one
    if not half_space:
        return near / (n * (n - 1))
    # the 2N points {ŵ_i} ∪ {−ŵ_i}: pairs (ŵ_i, ŵ_j) and (−ŵ_i, −ŵ_j) at distance² 2 − 2G_ij,
    # (ŵ_i, −ŵ_j) and (−ŵ_i, ŵ_j) at 2 + 2G_ij, and (ŵ_i, −ŵ_i) at 4 (i ≠ j: a distinct point)
    far = _f(torch.where(diag, one, (2.0 + 2.0 * gram).clamp_min(EPS)), power).sum() - n * f_one
    antipodal = 2 * n * float(_f(torch.tensor(4.0, dtype=torch.float64), power))
    return (2 * near + 2 * far + antipodal) / (2 * n * (2 * n - 1))


def hyperspherical_energy(params: list[torch.Tensor], power: float = 2.0, half_space: bool = False) -> torch.Tensor:
    """Σ_l mean_{i≠j} f_s(‖ŵ_i − ŵ_j‖) over the rows of each matrix view of ``params``."""
    mats = [m for m in matrices(params) if m.shape[0] >= 2]
    if not mats:
        raise ValueError("params must hold a matrix with 2 or more rows (neurons) for an energy between them")
    return torch.stack([_layer_energy(m, power, half_space) for m in mats]).sum()


def _sample(ctx: SampleContext) -> Sample:
    return Sample(
        kwargs={"params": ctx.model, "strength": 0.1, "power": 1.0, "half_space": True},
        invalid=(
            {"strength": -0.1}, {"power": -1.0}, {"half_space": "yes"},
            {"params": [torch.ones(1, 3)]}, {"params": [torch.full((2, 2), float("nan"))]},
        ),
        identity={"strength": 0.0},
    )


@register(
    "hyperspherical-energy",
    family=Family.PARAMETER_PENALTY,
    kind=Kind.PENALTY,
    paper=MHE,
    sample=_sample,
)
class HypersphericalEnergy(MatrixPenalty):
    """λ · Σ_l E_s(W_l); see ``reglab.card("hyperspherical-energy")``."""

    def __init__(
        self,
        params: Selection | nn.Module | Iterable[torch.Tensor],
        strength: float | Schedule = 1e-4,
        power: float = 2.0,
        half_space: bool = False,
    ) -> None:
        super().__init__(params, strength)
        self.power = check_number("power", power, low=0.0)
        self.half_space = check_bool("half_space", half_space)
        if not any(m.shape[0] >= 2 for m in self.matrices()):
            shapes = [tuple(p.shape) for p in self.selection]
            raise ValueError(f"params must hold a matrix with 2 or more rows (neurons), got shapes {shapes}")

    def value(self, params: list[torch.Tensor]) -> torch.Tensor:
        return hyperspherical_energy(params, self.power, self.half_space)

    def extra_repr(self) -> str:
        return f"power={self.power:g}, half_space={self.half_space}, {super().extra_repr()}"
