"""FLOPS regularizer: the squared mean magnitude of each feature, summed over features.

Equation (Paria et al., equation 4 as we read it)::

    R(a) = λ · Σ_j ( (1/N) Σ_i |a_ij| )²        a: (N, features), the activation flattened per example

It relaxes the expected cost Σ_j p_j² of a sparse retrieval, p_j the probability that feature j
is non-zero. Unlike an L1 penalty it is smallest when the non-zeros are spread evenly over the
features. The paper raises λ quadratically from 0 to its final value over the first T steps and
keeps it there: pass ``strength=quadratic_warmup(λ, steps=T)`` (``reglab.schedules``), or in a
recipe file ``strength: {schedule: quadratic_warmup, value: λ, steps: T}`` (T may be "20%" of
the run's steps).

Arguments:
    model: the ``nn.Module`` to hook.
    modules: a module name of ``model`` or a list of them (the embedding layer, after its ReLU).
    strength: λ >= 0, a float or a schedule (``quadratic_warmup`` for the paper's warm-up).
    site: ``Site.OUTPUT`` (default) or ``Site.INPUT``.
    gather: under ``torch.distributed``, compute the per-feature means over the global batch
        (all-gather that keeps gradients); True by default.

Returns:
    ``forward()`` returns a scalar tensor in the activations' dtype; a zero in eval mode.

Example:
    >>> import torch, reglab as rl
    >>> model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU())
    >>> pen = rl.FLOPS(model, modules="1", strength=rl.quadratic_warmup(0.5, steps=2))
    >>> a = model(torch.randn(6, 3))
    >>> [round(pen.strength.schedule(t), 3) for t in range(4)]
    [0.0, 0.125, 0.5, 0.5]
    >>> float(pen())                     # step 0 of the warm-up: λ = 0
    0.0

Reference:
    Biswajit Paria, Chih-Kuan Yeh, Ian E.H. Yen, Ning Xu, Pradeep Ravikumar, Barnabás Póczos.
    Minimizing FLOPs to Learn Efficient Sparse Representations. ICLR 2020. arXiv:2004.05665
    (section 4, the FLOPS regularizer; section 5, the quadratic increase of λ).

Traps:
    - It is a batch statistic: (mean)² is not the mean of per-example squares, so the value
      depends on the batch size. Under DDP the global batch is used (``gather=True``); every
      rank must then pass the same batch shape (``drop_last=True``).
    - The paper applies it to non-negative (ReLU) embeddings; on signed activations |a| is used.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from reglab._core.registry import Family, Kind, register
from reglab._core.schedules import QuadraticWarmup, Schedule, quadratic_warmup
from reglab.activity._base import ActivityPenalty, Site
from reglab.activity.activation_l1 import FLOPS_PAPER, activity_sample

__all__ = ["FLOPS", "QuadraticWarmup", "flops", "quadratic_warmup"]


def flops(z: torch.Tensor) -> torch.Tensor:
    """Σ_j (mean_i |z_ij|)² of a matrix ``z`` (N, features)."""
    return z.abs().mean(0).square().sum()


@register(
    "flops", family=Family.ACTIVITY, kind=Kind.ACTIVITY, paper=FLOPS_PAPER,
    sample=activity_sample(),  # type: ignore[arg-type]
)
class FLOPS(ActivityPenalty):
    """λ · Σ_j (mean_i |a_ij|)²; see the module docstring (``reglab.card("flops")``)."""

    batch_statistic = True

    def __init__(
        self,
        model: nn.Module,
        modules: str | Sequence[str],
        strength: float | Schedule = 1e-3,
        *,
        site: Site | str = Site.OUTPUT,
        gather: bool = True,
    ) -> None:
        super().__init__(model, modules, strength, site=site, gather=gather)

    def value(self, z: torch.Tensor) -> torch.Tensor:
        return flops(z)
