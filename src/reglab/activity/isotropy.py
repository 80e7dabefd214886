"""Isotropy (I-STAR): raise or lower IsoScore*, how evenly a batch of features uses its dimensions.

Equation (Rudman & Eickhoff, I-STAR; IsoScore of Rudman et al.)::

    C     = covariance of the rows of Z (N, d)               (unbiased, N − 1)
    C_ζ   = (1 − ζ) · C + ζ · C₀                              (shrinkage; C₀ = I by default)
    σ     = eigenvalues of C_ζ,   σ̂ = √d · σ / ‖σ‖₂
    δ     = ‖σ̂ − 1‖₂ / √(2 (d − √d))                           (isotropy defect, in [0, 1])
    ι*(Z) = ( (d − δ² (d − √d))² − d ) / ( d (d − 1) )          (IsoScore*, in [0, 1])
    penalty = λ · (1 − ι*(Z))

ι* is 1 when every principal direction has the same variance, 0 when one direction holds all
of it, and (k − 1)/(d − 1) when k of the d directions share it evenly. λ > 0 makes the features
more isotropic; λ < 0 less (the paper reports that lowering isotropy helps fine-tuned
language models).

Arguments:
    model: the ``nn.Module`` to hook.
    modules: a module name of ``model`` or a list of them (the representation).
    strength: λ, any finite real number (the sign chooses the direction), or a schedule.
    zeta: ζ in [0, 1], the weight of the shrinkage matrix (0 by default: the batch's own
        covariance, IsoScore of the batch).
    shrinkage: C₀, a symmetric (d, d) tensor (e.g. the covariance of a larger sample of the
        features), or None for the identity, as the paper suggests without such a sample.
    site: ``Site.OUTPUT`` (default) or ``Site.INPUT``.
    gather: under ``torch.distributed``, compute ι* on the global batch; True by default.

Returns:
    ``forward()`` returns the scalar λ·(1 − ι*) in the activations' dtype; a zero in eval mode.
    ``isoscore(z, zeta, shrinkage)`` returns ι* itself.

Example:
    >>> import torch, reglab as rl
    >>> eye = torch.eye(4, dtype=torch.float64)
    >>> round(float(rl.activity.isoscore(torch.cat([eye, -eye]))), 6)      # 4 of 4 directions
    1.0
    >>> two = torch.cat([eye[:2], -eye[:2]])                                # 2 of 4: (2−1)/(4−1)
    >>> round(float(rl.activity.isoscore(two)), 6)
    0.333333

Reference:
    William Rudman, Carsten Eickhoff. Stable Anisotropic Regularization. ICLR 2024.
    arXiv:2305.19358 (I-STAR, IsoScore*). William Rudman, Nate Gillman, Taylor Rayne, Carsten
    Eickhoff. IsoScore: Measuring the Uniformity of Embedding Space Utilization. Findings of
    ACL 2022. arXiv:2108.07344.

Traps:
    - How the paper weights λ(1 − ι*) against the task loss was not checked here; this is the
      plain sum ``loss + λ·(1 − ι*)``. λ = 0.1 by default is our choice.
    - With ζ = 0 and N <= d the batch covariance has rank < d: ι* is then at most (N − 2)/(d − 1);
      shrinkage (ζ > 0) is what the paper adds for small batches.
    - C₀ = I mixes the features' scale with a unit scale: with ζ > 0 the value depends on the
      features' magnitude unless C₀ comes from the features themselves.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from reglab._core.registry import Family, Kind, Paper, register
from reglab._core.schedules import Schedule
from reglab._core.validation import check_number
from reglab.activity._base import ActivityPenalty, Site
from reglab.activity.activation_l1 import activity_sample

ISTAR = Paper(
    authors="William Rudman, Carsten Eickhoff",
    title="Stable Anisotropic Regularization",
    year=2024,
    arxiv="2305.19358",
)


def isoscore(z: torch.Tensor, zeta: float = 0.0, shrinkage: torch.Tensor | None = None) -> torch.Tensor:
    """IsoScore* of the rows of ``z`` (N, d), its covariance shrunk by ζ towards ``shrinkage`` (I)."""
    if z.ndim != 2 or z.shape[0] < 2 or z.shape[1] < 2:
        raise ValueError(f"z must be a matrix (N, d) with N >= 2 and d >= 2, got shape {tuple(z.shape)}")
    d = z.shape[1]
    cov = torch.cov(z.mT)
    if zeta > 0:
        c0 = torch.eye(d, dtype=z.dtype, device=z.device) if shrinkage is None else shrinkage.to(z)
        if c0.shape != (d, d):
            raise ValueError(f"shrinkage must be a ({d}, {d}) matrix for these features, got {tuple(c0.shape)}")
        cov = (1 - zeta) * cov + zeta * c0
    sigma = torch.linalg.eigvalsh(cov).clamp_min(0)
    sigma_hat = math.sqrt(d) * sigma / sigma.norm()
    defect_sq = (sigma_hat - 1).square().sum() / (2 * (d - math.sqrt(d)))
    return ((d - defect_sq * (d - math.sqrt(d))).square() - d) / (d * (d - 1))


@register(
    "isotropy", family=Family.ACTIVITY, kind=Kind.ACTIVITY, paper=ISTAR,
    sample=activity_sample(signed=True, invalid=({"zeta": 1.5}, {"shrinkage": torch.ones(3)})),  # type: ignore[arg-type]
)
class Isotropy(ActivityPenalty):
    """λ · (1 − IsoScore*(a)); see the module docstring (``reglab.card("isotropy")``)."""

    batch_statistic = True
    strength_low = None

    def __init__(
        self,
        model: nn.Module,
        modules: str | Sequence[str],
        strength: float | Schedule = 0.1,
        *,
        zeta: float = 0.0,
        shrinkage: torch.Tensor | None = None,
        site: Site | str = Site.OUTPUT,
        gather: bool = True,
    ) -> None:
        zeta = check_number("zeta", zeta, low=0, high=1)
        if shrinkage is not None and (
            not isinstance(shrinkage, torch.Tensor) or shrinkage.ndim != 2
            or shrinkage.shape[0] != shrinkage.shape[1] or not torch.allclose(shrinkage, shrinkage.mT)
        ):
            shape = tuple(shrinkage.shape) if isinstance(shrinkage, torch.Tensor) else type(shrinkage).__name__
            raise ValueError(f"shrinkage must be a symmetric square matrix (d, d) or None, got {shape}")
        super().__init__(model, modules, strength, site=site, gather=gather)  # hooks go on last
        self.zeta = zeta
        self.register_buffer("shrinkage", None if shrinkage is None else shrinkage.detach().clone())

    def value(self, z: torch.Tensor) -> torch.Tensor:
        return 1 - isoscore(z, self.zeta, self.shrinkage)

    def extra_repr(self) -> str:
        c0 = "I" if self.shrinkage is None else f"tensor{tuple(self.shrinkage.shape)}"
        return f"{super().extra_repr()}, zeta={self.zeta}, shrinkage={c0}"
