"""Confidence penalty: cross-entropy minus β times the entropy of the predicted distribution.

Equation::

    H(p_i) = − Σ_k p_ik log p_ik,   p_i = softmax(z_i)
    ℓ = CE(z, y) − β · mean_i H(p_i)

Low-entropy (over-confident) output distributions are penalized; like label smoothing it keeps
the model from putting all mass on one class, but it acts on the prediction rather than on the
target (label smoothing is the KL to the uniform distribution in the other direction).

Arguments:
    strength: β >= 0, a float or a ``reglab.schedules`` schedule. Default 0.1. With β = 0 the
        loss is plain cross-entropy.

Returns:
    ``forward(logits, targets)``: logits (..., K); targets integer labels (...) or soft targets
    (..., K); a scalar in the logits' dtype. ``reglab.functional.confidence_penalty(logits)`` is
    the term alone, − mean H(p), to add with a positive weight to any loss.

Example:
    >>> import torch, torch.nn.functional as F, reglab as rl
    >>> z, y = torch.randn(4, 3), torch.tensor([0, 1, 2, 0])
    >>> p = torch.softmax(z, -1)
    >>> entropy = -(p * p.log()).sum(-1).mean()
    >>> crit = rl.ConfidencePenalty(strength=0.5)
    >>> bool(torch.isclose(crit(z, y), F.cross_entropy(z, y) - 0.5 * entropy))
    True

Reference:
    Gabriel Pereyra, George Tucker, Jan Chorowski, Łukasz Kaiser, Geoffrey Hinton. Regularizing
    Neural Networks by Penalizing Confident Output Distributions. ICLR 2017 workshop.
    arXiv:1701.06548.

Traps:
    - The module is the whole loss (cross-entropy − β·H), so it can be a Recipe's one loss;
      ``reglab.functional.confidence_penalty`` is the term alone.
    - The paper also proposes a hinge form, β·max(0, Γ − H), penalizing only entropies below a
      threshold Γ; that variant is not implemented here.
    - With β >= 1 a uniform prediction (loss (1 − β)·log K <= 0) beats a confident correct
      one (loss → 0), so training drifts to uniform outputs; useful β are well below 1.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from reglab._core.registry import Family, Kind, Paper, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.schedules import Schedule, Strength
from reglab._core.validation import check_strength
from reglab.losses._common import check_logits
from reglab.losses.soft_cross_entropy import soft_cross_entropy

CONFIDENCE_PENALTY = Paper(
    authors="Gabriel Pereyra, George Tucker, Jan Chorowski, Łukasz Kaiser, Geoffrey Hinton",
    title="Regularizing Neural Networks by Penalizing Confident Output Distributions",
    year=2017,
    arxiv="1701.06548",
)


def confidence_penalty(logits: torch.Tensor) -> torch.Tensor:
    """− mean_i H(softmax(logits_i)) = mean_i Σ_k p_ik log p_ik, for logits (..., K)."""
    check_logits(logits)
    log_p = torch.log_softmax(logits, dim=-1)
    return (log_p.exp() * log_p).sum(dim=-1).mean()


def _sample(ctx: SampleContext) -> Sample:
    return Sample(
        kwargs={"strength": 0.1},
        inputs=(ctx.logits, ctx.y),
        invalid=({"strength": -0.1}, {"strength": "high"}),
        identity={"strength": 0.0},
        reference=lambda logits, y: F.cross_entropy(logits, y),
    )


@register(
    "confidence-penalty",
    family=Family.LOSS,
    kind=Kind.LOSS,
    paper=CONFIDENCE_PENALTY,
    sample=_sample,
)
class ConfidencePenalty(nn.Module):
    """Cross-entropy − β·entropy; see ``reglab.card("confidence-penalty")``."""

    def __init__(self, strength: float | Schedule = 0.1) -> None:
        super().__init__()
        self.strength = Strength(check_strength("strength", strength))

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        beta = self.strength()
        if self.training:
            self.strength.advance()
        loss = soft_cross_entropy(logits, targets)
        return loss if beta == 0.0 else loss + beta * confidence_penalty(logits)
