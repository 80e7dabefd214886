"""z-loss: cross-entropy plus λ·(log Z)², which keeps the softmax normalizer near 1.

Equation::

    log Z_i = log Σ_k exp(z_ik)
    ℓ = CE(z, y) + λ · mean_i (log Z_i)²

Cross-entropy is invariant to adding a constant to all logits; the z-loss removes that freedom
and pulls log Z towards 0, so the logits stay log-probabilities and cannot drift (output-logit
divergence) when training at high learning rates.

Arguments:
    strength: λ >= 0, a float or a ``reglab.schedules`` schedule; 1e-4 as in PaLM and the paper.
        With λ = 0 the loss is plain cross-entropy.

Returns:
    ``forward(logits, targets)``: logits (..., K) (classes last, e.g. (batch, seq, vocab));
    targets integer labels (...) or soft targets (..., K); a scalar in the logits' dtype, the
    mean over all positions. ``reglab.functional.z_loss(logits)`` is the term alone,
    mean (log Z)², to add to any loss.

Example:
    >>> import torch, torch.nn.functional as F, reglab as rl
    >>> z, y = torch.randn(4, 5, dtype=torch.float64), torch.tensor([0, 1, 2, 3])
    >>> crit = rl.ZLoss(strength=1e-4)
    >>> extra = crit(z, y) - F.cross_entropy(z, y)
    >>> bool(torch.isclose(extra, 1e-4 * torch.logsumexp(z, -1).pow(2).mean()))
    True

Reference:
    Mitchell Wortsman, Peter J. Liu, Lechao Xiao, Katie Everett, Alex Alemi, Ben Adlam, John D.
    Co-Reyes, Izzeddin Gur, Abhishek Kumar, Roman Novak, Jeffrey Pennington, Jascha
    Sohl-Dickstein, Kelvin Xu, Jaehoon Lee, Justin Gilmer, Simon Kornblith. Small-scale proxies
    for large-scale Transformer training instabilities. ICLR 2024. arXiv:2309.14322
    (z-loss was introduced for PaLM: Chowdhery et al. 2022, arXiv:2204.02311).

Traps:
    - The module is the whole loss (cross-entropy + term), not the term alone, because a Recipe
      holds one loss; use ``reglab.functional.z_loss`` to add the term to a loss of your own.
    - The mean is over every position, so the term's weight does not grow with sequence length.
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

SMALL_SCALE_PROXIES = Paper(
    authors="Mitchell Wortsman, Peter J. Liu, Lechao Xiao, Katie Everett, Alex Alemi, Ben Adlam, "
    "John D. Co-Reyes, Izzeddin Gur, Abhishek Kumar, Roman Novak, Jeffrey Pennington, "
    "Jascha Sohl-Dickstein, Kelvin Xu, Jaehoon Lee, Justin Gilmer, Simon Kornblith",
    title="Small-scale proxies for large-scale Transformer training instabilities",
    year=2024,
    arxiv="2309.14322",
)


def z_loss(logits: torch.Tensor) -> torch.Tensor:
    """mean over positions of (log Σ_k exp(logits_k))², for logits (..., K)."""
    check_logits(logits)
    return torch.logsumexp(logits, dim=-1).square().mean()


def _sample(ctx: SampleContext) -> Sample:
    return Sample(
        kwargs={"strength": 1e-2},
        inputs=(ctx.logits, ctx.y),
        invalid=({"strength": -1e-4}, {"strength": float("inf")}),
        identity={"strength": 0.0},
        reference=lambda logits, y: F.cross_entropy(logits, y),
    )


@register("z-loss", family=Family.LOSS, kind=Kind.LOSS, paper=SMALL_SCALE_PROXIES, sample=_sample)
class ZLoss(nn.Module):
    """Cross-entropy + λ·mean (log Z)²; see the module docstring (``reglab.card("z-loss")``)."""

    def __init__(self, strength: float | Schedule = 1e-4) -> None:
        super().__init__()
        self.strength = Strength(check_strength("strength", strength))

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        lam = self.strength()
        if self.training:
            self.strength.advance()
        loss = soft_cross_entropy(logits, targets)
        return loss if lam == 0.0 else loss + lam * z_loss(logits)
