"""Coding rate: the log-volume of a batch of features, rewarded in the loss against collapse.

Equation (SimDINO, after MCR²; Z: (N, d) features, each row L2-normalized by default)::

    R_ε(Z) = ½ log det( I_d + d / (N ε²) · Zᵀ Z )
    penalty = − γ · R_ε(Z)            (so loss = task_loss − γ · R_ε)

The log-determinant is taken by a Cholesky factorization of the smaller of the d×d and N×N
matrices (they have the same determinant): ½ log det = Σ log diag(L).

Arguments:
    model: the ``nn.Module`` to hook.
    modules: a module name of ``model`` or a list of them (the projected features).
    strength: γ >= 0, a float or a schedule.
    eps: ε > 0, the quantization precision (0.5 by default).
    normalize: scale each row of Z to unit norm first, as SimDINO does with its features
        (True by default).
    official_code_scaling: use d / (N ε) instead of the paper's d / (N ε²), as the official
        SimDINO / MCR² code does (False by default; see Traps).
    site: ``Site.OUTPUT`` (default) or ``Site.INPUT``.
    gather: under ``torch.distributed``, compute R on the global batch (all-gather that keeps
        gradients, as the official code does); True by default.

Returns:
    ``forward()`` returns the scalar −γ·R in the activations' dtype; a zero in eval mode.
    ``coding_rate(z, eps)`` returns R itself (>= 0).

Example:
    >>> import math, torch, reglab as rl
    >>> z = torch.eye(3, dtype=torch.float64)                     # N = d = 3, ZᵀZ = I
    >>> r = rl.activity.coding_rate(z, eps=0.5)                   # ½·3·log(1 + 1/0.25)
    >>> round(float(r), 6) == round(1.5 * math.log(5), 6)
    True

Reference:
    Ziyang Wu, Jingyuan Zhang, Druv Pai, XuDong Wang, Chandan Singh, Jianwei Yang, Jianfeng Gao,
    Yi Ma. Simplifying DINO via Coding Rate Regularization. ICML 2025. arXiv:2502.10385.
    Yaodong Yu, Kwan Ho Ryan Chan, Chong You, Chaobing Song, Yi Ma. Learning Diverse and
    Discriminative Representations via the Principle of Maximal Coding Rate Reduction.
    NeurIPS 2020. arXiv:2006.08558.

Traps:
    - ε versus ε²: the papers write d/(Nε²); the public code of MCR² and SimDINO divides by ε
      where the paper has ε² (a different effective precision for the same ``eps``). We follow
      the paper; ``official_code_scaling=True`` reproduces the code.
    - Sign: ``forward()`` returns −γ·R (the rate is maximized), so add it to the loss.
    - γ = 1 by default is our choice; the paper balances γ against its distance term.
    - It is a batch statistic: under DDP every rank must pass the same batch shape.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from reglab._core.registry import Family, Kind, Paper, register
from reglab._core.schedules import Schedule
from reglab._core.validation import check_bool, check_number
from reglab.activity._base import ActivityPenalty, Site
from reglab.activity.activation_l1 import activity_sample

SIMDINO = Paper(
    authors="Ziyang Wu, Jingyuan Zhang, Druv Pai, XuDong Wang, Chandan Singh, Jianwei Yang, "
    "Jianfeng Gao, Yi Ma",
    title="Simplifying DINO via Coding Rate Regularization",
    year=2025,
    arxiv="2502.10385",
)


def coding_rate(z: torch.Tensor, eps: float = 0.5, *, official_code_scaling: bool = False) -> torch.Tensor:
    """½ log det(I + d/(N ε²) ZᵀZ) of ``z`` (N, d) by Cholesky; ε instead of ε² on request."""
    if z.ndim != 2 or 0 in z.shape:
        raise ValueError(f"z must be a non-empty matrix (N, d), got shape {tuple(z.shape)}")
    n, d = z.shape
    scale = d / (n * (eps if official_code_scaling else eps * eps))
    g = z.mT @ z if d <= n else z @ z.mT
    eye = torch.eye(g.shape[0], dtype=z.dtype, device=z.device)
    chol = torch.linalg.cholesky(eye + scale * g)
    return chol.diagonal().log().sum()


@register(
    "coding-rate", family=Family.ACTIVITY, kind=Kind.ACTIVITY, paper=SIMDINO,
    sample=activity_sample(invalid=({"eps": 0.0}, {"normalize": "yes"})),  # type: ignore[arg-type]
)
class CodingRate(ActivityPenalty):
    """−γ · R_ε(a) over hooked activations; see the module docstring (``reglab.card("coding-rate")``)."""

    batch_statistic = True

    def __init__(
        self,
        model: nn.Module,
        modules: str | Sequence[str],
        strength: float | Schedule = 1.0,
        *,
        eps: float = 0.5,
        normalize: bool = True,
        official_code_scaling: bool = False,
        site: Site | str = Site.OUTPUT,
        gather: bool = True,
    ) -> None:
        eps = check_number("eps", eps, low=0.0, low_open=True)
        flags = check_bool("normalize", normalize), check_bool("official_code_scaling", official_code_scaling)
        super().__init__(model, modules, strength, site=site, gather=gather)  # hooks go on last
        self.eps = eps
        self.normalize, self.official_code_scaling = flags

    def value(self, z: torch.Tensor) -> torch.Tensor:
        if self.normalize:
            z = F.normalize(z, dim=1)
        return -coding_rate(z, self.eps, official_code_scaling=self.official_code_scaling)

    def extra_repr(self) -> str:
        return (f"{super().extra_repr()}, eps={self.eps}, normalize={self.normalize}, "
                f"official_code_scaling={self.official_code_scaling}")
