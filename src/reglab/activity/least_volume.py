"""Least volume: shrink the volume of a batch of latent codes, so unneeded latent dimensions collapse.

Equation (Chen & Fuge, section 2)::

    σ_i  = standard deviation of latent dimension i over the batch (unbiased, N − 1)
    Vol(Z) = ( Π_{i=1..m} (σ_i + η) )^{1/m} = exp( (1/m) Σ_i log(σ_i + η) )
    penalty = λ · Vol(Z)

The geometric mean of the per-dimension spreads is the volume of the latent set's bounding box
(its m-th root); minimizing it, with a Lipschitz decoder, flattens the latent set onto as few
dimensions as the reconstruction needs: the dimensions that are not needed shrink to
(nearly) zero spread, and their order by σ_i works like a PCA's. η > 0 keeps the log finite
and the gradient bounded.

Arguments:
    model: the ``nn.Module`` to hook.
    modules: a module name of ``model`` or a list of them (the encoder's latent code).
    strength: λ >= 0, a float or a schedule (1e-3 by default, the official MNIST setting).
    eta: η > 0 (1.0 by default, the official MNIST setting).
    site: ``Site.OUTPUT`` (default) or ``Site.INPUT``.
    gather: under ``torch.distributed``, take σ over the global batch; True by default.

Returns:
    ``forward()`` returns the scalar λ·Vol in the activations' dtype; a zero in eval mode.
    ``least_volume(z, eta)`` returns Vol itself.

Example:
    >>> import torch, reglab as rl
    >>> z = torch.tensor([[0.0, 1.0], [2.0, 1.0]], dtype=torch.float64)   # σ = (√2, 0)
    >>> v = rl.activity.least_volume(z, eta=1.0)                            # √((√2 + 1)·1)
    >>> round(float(v), 6) == round(((2 ** 0.5 + 1) * 1) ** 0.5, 6)
    True

Reference:
    Qiuyi Chen, Mark Fuge. Compressing Latent Space via Least Volume. ICLR 2024.
    arXiv:2404.17773. Official code: github.com/IDEALLab/Least_Volume_ICLR2024.

Traps:
    - The paper requires a Lipschitz decoder (spectral normalization of its layers, e.g.
      ``torch.nn.utils.parametrizations.spectral_norm``): without it the encoder can shrink
      the codes and the decoder scale them back up, and the penalty only rescales the latent space.
    - A latent dimension with exactly zero spread gets a zero gradient, not NaN (the variance is
      clamped at the dtype's smallest normal number before the square root).
    - It is a batch statistic (N >= 2): under DDP every rank must pass the same batch shape.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from reglab._core.registry import Family, Kind, Paper, register
from reglab._core.schedules import Schedule
from reglab._core.validation import check_number
from reglab.activity._base import ActivityPenalty, Site
from reglab.activity.activation_l1 import activity_sample

LEAST_VOLUME_PAPER = Paper(
    authors="Qiuyi Chen, Mark Fuge",
    title="Compressing Latent Space via Least Volume",
    year=2024,
    arxiv="2404.17773",
)


def least_volume(z: torch.Tensor, eta: float = 1.0) -> torch.Tensor:
    """exp(mean_i log(σ_i + η)) of ``z`` (N, m), σ_i the unbiased standard deviation of column i."""
    if z.ndim != 2 or z.shape[0] < 2 or z.shape[1] == 0:
        raise ValueError(f"z must be a matrix (N, m) with N >= 2 rows, got shape {tuple(z.shape)}")
    var = z.var(dim=0)
    sigma = var.clamp_min(torch.finfo(var.dtype).tiny).sqrt()
    return torch.exp(torch.log(sigma + eta).mean())


@register(
    "least-volume", family=Family.ACTIVITY, kind=Kind.ACTIVITY, paper=LEAST_VOLUME_PAPER,
    sample=activity_sample(invalid=({"eta": 0.0}, {"eta": float("inf")})),  # type: ignore[arg-type]
)
class LeastVolume(ActivityPenalty):
    """λ · Vol(a) over hooked activations; see the module docstring (``reglab.card("least-volume")``)."""

    batch_statistic = True

    def __init__(
        self,
        model: nn.Module,
        modules: str | Sequence[str],
        strength: float | Schedule = 1e-3,
        *,
        eta: float = 1.0,
        site: Site | str = Site.OUTPUT,
        gather: bool = True,
    ) -> None:
        eta = check_number("eta", eta, low=0.0, low_open=True)
        super().__init__(model, modules, strength, site=site, gather=gather)  # hooks go on last
        self.eta = eta

    def value(self, z: torch.Tensor) -> torch.Tensor:
        return least_volume(z, self.eta)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, eta={self.eta}"
