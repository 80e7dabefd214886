"""VNE: von Neumann entropy of the feature autocorrelation, rewarded (or punished) in the loss.

Equation (Kim et al., section 3)::

    Z = rows of the activation (N, d), each row scaled to unit L2 norm
    C = Zᵀ Z / N                      (autocorrelation, trace 1)
    λ_j = eigenvalues of C            (= squared singular values of Z / √N)
    VNE(Z) = − Σ_j λ_j log λ_j
    penalty = − α · VNE(Z)            (so loss = task_loss − α · VNE)

α > 0 spreads the eigenvalues (higher effective rank, more isotropic features); α < 0
concentrates them. VNE lies in [0, log min(N, d)]: isotropic features give log d, features of
rank k with equal eigenvalues give log k.

Arguments:
    model: the ``nn.Module`` to hook.
    modules: a module name of ``model`` or a list of them (the representation: the input of the
        classifier head with ``site=Site.INPUT``, as in the paper's code).
    strength: α, any finite real number (the sign chooses the direction), or a schedule.
    site: ``Site.OUTPUT`` (default) or ``Site.INPUT``.
    gather: under ``torch.distributed``, compute VNE on the global batch (all-gather that keeps
        gradients); True by default.

Returns:
    ``forward()`` returns the scalar −α·VNE in the activations' dtype; a zero in eval mode.
    ``vne(z)`` returns VNE itself (a metric, >= 0).

Example:
    >>> import math, torch, reglab as rl
    >>> z = torch.eye(4, dtype=torch.float64).repeat(3, 1)      # 12 rows, isotropic in 4-d
    >>> round(float(rl.activity.vne(z)), 6) == round(math.log(4), 6)
    True
    >>> model = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    >>> with rl.VNE(model, modules="2", strength=0.1, site="input") as pen:
    ...     logits = model(torch.randn(16, 3))
    ...     bool(pen() < 0)                                          # −α·VNE, α > 0
    True

Reference:
    Jaeill Kim, Suhyun Kang, Duhun Hwang, Jungwook Shin, Wonjong Rhee. VNE: An Effective Method
    for Improving Deep Representation by Manipulating Eigenvalue Distribution. CVPR 2023.
    arXiv:2304.01434. Official code: github.com/jaeill/CVPR23-VNE.

Traps:
    - Sign: the paper subtracts α·VNE from the loss; ``forward()`` returns −α·VNE, so add it.
    - α: the paper tunes it per task and gives no single default; 0.1 here is our choice.
    - The eigenvalues come from ``eigvalsh`` of the smaller Gram matrix (d×d or N×N) rather than
      an SVD as in the official code: the same values, and a gradient that stays finite when
      eigenvalues repeat or vanish (eigenvalues below 1e-12 of the trace are left out of the sum
      and of the gradient).
    - It is a batch statistic: under DDP every rank must pass the same batch shape.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from reglab._core.registry import Family, Kind, Paper, register
from reglab._core.schedules import Schedule
from reglab.activity._base import ActivityPenalty, Site
from reglab.activity.activation_l1 import activity_sample

VNE_PAPER = Paper(
    authors="Jaeill Kim, Suhyun Kang, Duhun Hwang, Jungwook Shin, Wonjong Rhee",
    title="VNE: An Effective Method for Improving Deep Representation by Manipulating "
    "Eigenvalue Distribution",
    year=2023,
    arxiv="2304.01434",
)


def gram_eigenvalues(z: torch.Tensor) -> torch.Tensor:
    """Eigenvalues of zᵀz (the smaller of zᵀz and zzᵀ, which share their non-zero eigenvalues)."""
    g = z.mT @ z if z.shape[1] <= z.shape[0] else z @ z.mT
    return torch.linalg.eigvalsh(g)


def vne(z: torch.Tensor) -> torch.Tensor:
    """Von Neumann entropy of the row-normalized autocorrelation of ``z`` (N, d); see the card."""
    if z.ndim != 2 or 0 in z.shape:
        raise ValueError(f"z must be a non-empty matrix (N, d), got shape {tuple(z.shape)}")
    zn = F.normalize(z, dim=1) / z.shape[0] ** 0.5
    lam = gram_eigenvalues(zn)
    keep = lam > 1e-12
    safe = torch.where(keep, lam, torch.ones_like(lam))
    return -(safe * safe.log()).sum()


@register(
    "vne", family=Family.ACTIVITY, kind=Kind.ACTIVITY, paper=VNE_PAPER,
    sample=activity_sample(signed=True),  # type: ignore[arg-type]
)
class VNE(ActivityPenalty):
    """−α · VNE(a) over hooked activations; see the module docstring (``reglab.card("vne")``)."""

    batch_statistic = True
    strength_low = None

    def __init__(
        self,
        model: nn.Module,
        modules: str | Sequence[str],
        strength: float | Schedule = 0.1,
        *,
        site: Site | str = Site.OUTPUT,
        gather: bool = True,
    ) -> None:
        super().__init__(model, modules, strength, site=site, gather=gather)

    def value(self, z: torch.Tensor) -> torch.Tensor:
        return -vne(z)
