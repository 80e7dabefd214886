"""ELR: cross-entropy plus a pull towards each example's running average of its own predictions.

Equation (for a batch of examples i with positions ``index`` in the training set)::

    p_i = clamp(softmax(z_i), 1e-4, 1 − 1e-4)
    t_i ← β t_i + (1 − β) p_i / Σ_k p_ik            (p detached; t_i starts at 0)
    ℓ = CE(z, y) + λ · mean_i log(1 − ⟨t_i, p_i⟩)

The targets t are updated before the regularizer reads them, as in the official code. The
regularizer's gradient keeps p_i close to its early-learning average, which counteracts the
memorization of wrong labels.

Arguments:
    num_examples: size of the training set (>= 1); one target row per example.
    num_classes: K >= 1.
    beta: β in [0, 1), the EMA momentum of the targets. Default 0.7 (the paper's CIFAR-10).
    strength: λ >= 0, a float or a ``reglab.schedules`` schedule. Default 3.0.

Returns:
    ``forward(logits, targets, index)``: logits (N, K), integer labels (N,), positions (N,)
    in [0, num_examples); a scalar in the logits' dtype. In training mode the call updates the
    target rows ``index`` (a buffer saved by ``state_dict()``) and advances the strength's step
    counter. In eval mode it returns plain cross-entropy, ``index`` may be omitted and nothing
    is updated. ``reglab.functional.elr_targets`` and ``elr_loss`` are the two steps.

Example:
    >>> import torch, reglab as rl
    >>> crit = rl.ELR(num_examples=100, num_classes=3)
    >>> z, y, idx = torch.randn(4, 3), torch.tensor([0, 1, 2, 1]), torch.tensor([5, 17, 42, 99])
    >>> loss = crit(z, y, idx)
    >>> crit.targets[5].sum().item() > 0          # example 5's running target was updated
    True

Reference:
    Sheng Liu, Jonathan Niles-Weed, Narges Razavian, Carlos Fernandez-Granda. Early-Learning
    Regularization Prevents Memorization of Noisy Labels. NeurIPS 2020. arXiv:2007.00151.
    Formula checked against the official code (github.com/shengliu66/ELR, loss.py).

Traps:
    - Needs the positions of the batch's examples in the training set: wrap the dataset so
      it returns them, and pass ``Recipe.step(..., index=idx)``.
    - Needs integer labels: Mixup, CutMix or label smoothing before it are refused by Recipe.
    - Indices must be distinct within a batch; with repeats, which update of t_i wins is
      unspecified. The targets are kept on the module's device, one row of K floats per example.
    - ELR+ (two networks, weight averaging, mixup) is not this loss.
    - Under DDP each process fills only the rows of the examples it sees (the official PS-KD
      code all-gathers them); checkpoint every rank's state, or gather before saving.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from reglab._core.registry import Capabilities, Family, Kind, Paper, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.schedules import Schedule, Strength
from reglab._core.validation import check_int, check_number, check_strength
from reglab.losses._common import check_hard_targets, check_index, check_logits

ELR_PAPER = Paper(
    authors="Sheng Liu, Jonathan Niles-Weed, Narges Razavian, Carlos Fernandez-Granda",
    title="Early-Learning Regularization Prevents Memorization of Noisy Labels",
    year=2020,
    arxiv="2007.00151",
)
CLAMP = 1e-4


def elr_targets(previous: torch.Tensor, logits: torch.Tensor, beta: float) -> torch.Tensor:
    """β·previous + (1 − β)·p/Σp with p = clamp(softmax(logits), 1e-4, 1 − 1e-4), detached."""
    p = torch.softmax(logits.detach(), dim=-1).clamp(CLAMP, 1.0 - CLAMP)
    return beta * previous.to(p.dtype) + (1.0 - beta) * p / p.sum(dim=-1, keepdim=True)


def elr_loss(
    logits: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor, strength: float
) -> torch.Tensor:
    """CE(logits, labels) + λ·mean log(1 − ⟨targets, clamp(softmax(logits))⟩)."""
    ce = F.cross_entropy(logits, labels)
    if strength == 0.0:
        return ce
    p = torch.softmax(logits, dim=-1).clamp(CLAMP, 1.0 - CLAMP)
    reg = torch.log(1.0 - (targets.to(p.dtype) * p).sum(dim=-1)).mean()
    return ce + strength * reg


def _sample(ctx: SampleContext) -> Sample:
    return Sample(
        kwargs={
            "num_examples": ctx.num_examples,
            "num_classes": ctx.num_classes,
            "beta": 0.7,
            "strength": 3.0,
        },
        inputs=(ctx.logits, ctx.y, ctx.index),
        invalid=(
            {"num_examples": 0},
            {"num_classes": 0},
            {"beta": 1.0},
            {"beta": -0.1},
            {"strength": -1.0},
        ),
        identity={"strength": 0.0},
        reference=lambda logits, y, index: F.cross_entropy(logits, y),
    )


@register(
    "elr",
    family=Family.LOSS,
    kind=Kind.LOSS,
    paper=ELR_PAPER,
    capabilities=Capabilities(needs_hard_labels=True, needs_sample_index=True),
    sample=_sample,
)
class ELR(nn.Module):
    """Early-learning regularized cross-entropy; see ``reglab.card("elr")``."""

    targets: torch.Tensor

    def __init__(
        self,
        num_examples: int,
        num_classes: int,
        beta: float = 0.7,
        strength: float | Schedule = 3.0,
    ) -> None:
        super().__init__()
        self.num_examples = check_int("num_examples", num_examples, low=1)
        self.num_classes = check_int("num_classes", num_classes, low=1)
        self.beta = check_number("beta", beta, low=0.0, high=1.0, high_open=True)
        self.strength = Strength(check_strength("strength", strength))
        self.register_buffer("targets", torch.zeros(self.num_examples, self.num_classes))

    def forward(
        self, logits: torch.Tensor, targets: torch.Tensor, index: torch.Tensor | None = None
    ) -> torch.Tensor:
        check_logits(logits, self.num_classes)
        check_hard_targets("ELR", logits, targets)
        if not self.training:
            return F.cross_entropy(logits, targets)
        index = check_index(index, self.num_examples, logits.shape[0]).to(self.targets.device)
        lam = self.strength()
        self.strength.advance()
        updated = elr_targets(self.targets[index], logits, self.beta)
        self.targets[index] = updated.to(self.targets.dtype)
        return elr_loss(logits, targets, updated.to(logits.device), lam)

    def extra_repr(self) -> str:
        return (
            f"num_examples={self.num_examples}, num_classes={self.num_classes}, beta={self.beta:g}"
        )
