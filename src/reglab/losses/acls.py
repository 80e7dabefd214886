"""ACLS: cross-entropy plus a squared hinge on the largest logit and on the gaps below it.

Equation (Park et al. 2023, eq. 14-16; the official ``calibrate/losses/acls.py``)::

    ẑ_i = max_k z_ik,   k̂_i = argmax_k z_ik
    R = λ₁ · (1/N) Σ_i ReLU(ẑ_i − m)²
      + λ₂ · (1/(N(K−1))) Σ_i Σ_{j ≠ k̂_i} ReLU(sg(ẑ_i) − z_ij − m)²
    ℓ = CE(z, y) + α · R

sg is stop-gradient: the second term moves only the non-maximal logits z_ij. The penalty is
zero while the largest logit stays below m and every gap to it stays below m, and grows with the
distance beyond the margin (adaptive); the largest logit and the others get different terms
(conditional on the prediction, not on the label). N counts positions: logits (..., K) are
flattened to (N, K).

Arguments:
    strength: α >= 0, a float or a ``reglab.schedules`` schedule; 0.1 in the paper. α = 0 is
        plain cross-entropy.
    lambda1: λ₁ >= 0, the weight of the max-logit term (1.0 in the paper).
    lambda2: λ₂ >= 0, the weight of the gap term (0.1 in the paper).
    margin: m > 0, the logit margin (10 in the paper; small networks with small logits need a
        smaller one, e.g. 2-5).

Returns:
    ``forward(logits, targets)``: logits (..., K), K >= 2; targets integer labels (...) or soft
    targets (..., K); a scalar in the logits' dtype. ``reglab.functional.acls_penalty(logits,
    lambda1, lambda2, margin)`` is R alone.

Example:
    >>> import torch, torch.nn.functional as F, reglab as rl
    >>> z = torch.tensor([[12.0, 0.0, -1.0]], dtype=torch.float64)   # max 12, gaps 12 and 13
    >>> y = torch.tensor([0])
    >>> crit = rl.ACLS(strength=0.1, lambda1=1.0, lambda2=0.1, margin=10.0)
    >>> extra = crit(z, y) - F.cross_entropy(z, y)   # 0.1 · [1·2² + 0.1·(2² + 3²)/2]
    >>> round(float(extra), 6)
    0.465

Reference:
    Hyekang Park, Jongyoun Noh, Youngmin Oh, Donghyeon Baek, Bumsub Ham. ACLS: Adaptive and
    Conditional Label Smoothing for Network Calibration. ICCV 2023. arXiv:2308.11911.
    Official code: github.com/cvlab-yonsei/ACLS (``calibrate/losses/acls.py``).

Traps:
    - The max logit is chosen per position from the logits, not from the label: a wrong
      prediction is still pushed down as the maximum.
    - Ties: the first largest logit (``argmax``) gets the max-logit term and the other tied
      logits the gap term (their gap is 0, so they add nothing below the margin). The official
      code marks every tied logit as maximal; the two differ only on exact ties.
    - The gap term's mean is over the K − 1 non-maximal logits of every position, so λ₂ does not
      grow with the number of classes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from reglab._core.registry import Family, Kind, Paper, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.schedules import Schedule, Strength
from reglab._core.validation import check_number, check_strength
from reglab.losses._common import check_logits
from reglab.losses.soft_cross_entropy import soft_cross_entropy

ACLS_PAPER = Paper(
    authors="Hyekang Park, Jongyoun Noh, Youngmin Oh, Donghyeon Baek, Bumsub Ham",
    title="ACLS: Adaptive and Conditional Label Smoothing for Network Calibration",
    year=2023,
    arxiv="2308.11911",
)


def acls_penalty(
    logits: torch.Tensor, lambda1: float = 1.0, lambda2: float = 0.1, margin: float = 10.0
) -> torch.Tensor:
    """R = λ₁ mean_i ReLU(ẑ_i − m)² + λ₂ mean_{i, j≠k̂_i} ReLU(sg(ẑ_i) − z_ij − m)², logits (..., K)."""
    check_logits(logits)
    k = logits.shape[-1]
    if k < 2:
        raise ValueError(f"logits must have K >= 2 classes for ACLS, got K = {k}")
    z = logits.reshape(-1, k)
    n = z.shape[0]
    top, idx = z.max(dim=-1)
    is_max = F.one_hot(idx, k).to(torch.bool)
    pos = F.relu(top - margin).square().sum()
    gaps = F.relu(top.detach().unsqueeze(-1) - z - margin).square()
    neg = gaps.masked_fill(is_max, 0.0).sum()
    return lambda1 * pos / n + lambda2 * neg / (n * (k - 1))


def _sample(ctx: SampleContext) -> Sample:
    return Sample(
        kwargs={"strength": 0.5, "margin": 0.5},
        inputs=(ctx.logits * 3, ctx.y),
        invalid=({"strength": -0.1}, {"lambda1": -1.0}, {"lambda2": float("nan")},
                 {"margin": 0.0}),
        identity={"strength": 0.0},
        reference=lambda logits, y: F.cross_entropy(logits, y),
    )


@register("acls", family=Family.LOSS, kind=Kind.LOSS, paper=ACLS_PAPER, sample=_sample)
class ACLS(nn.Module):
    """Cross-entropy + α·R (ACLS); see the module docstring (``reglab.card("acls")``)."""

    def __init__(
        self,
        strength: float | Schedule = 0.1,
        lambda1: float = 1.0,
        lambda2: float = 0.1,
        margin: float = 10.0,
    ) -> None:
        super().__init__()
        self.strength = Strength(check_strength("strength", strength))
        self.lambda1 = check_number("lambda1", lambda1, low=0.0)
        self.lambda2 = check_number("lambda2", lambda2, low=0.0)
        self.margin = check_number("margin", margin, low=0.0, low_open=True)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        alpha = self.strength()
        if self.training:
            self.strength.advance()
        loss = soft_cross_entropy(logits, targets)
        if alpha == 0.0:
            return loss
        return loss + alpha * acls_penalty(logits, self.lambda1, self.lambda2, self.margin)

    def extra_repr(self) -> str:
        return f"lambda1={self.lambda1:g}, lambda2={self.lambda2:g}, margin={self.margin:g}"
