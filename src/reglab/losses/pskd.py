"""PS-KD: train on targets that blend the label with the model's own previous prediction.

Equation (at training step t of T, for examples i with positions ``index``)::

    α_t = α_T · min(t + 1, T) / T                      (t = 0, 1, … counts training calls)
    y_i^soft = (1 − α_t) · onehot(y_i) + α_t · p_prev(i)
    ℓ = mean_i − Σ_k y_ik^soft · log softmax(z_i)_k
    p_prev(i) ← softmax(z_i)  (detached, after the loss is formed)

p_prev(i) is the prediction stored the last time example i was seen (one epoch ago when every
example is seen once per epoch); before its first visit it is the one-hot label, as in the
official code's first epoch.

Arguments:
    num_examples: size of the training set (>= 1); one stored prediction per example.
    num_classes: K >= 1.
    alpha_T: α_T in [0, 1], the final weight of the model's own predictions. Default 0.8.
    total_steps: T >= 1, the number of training calls over which α rises linearly to α_T (the
        harness binds it from the budget; in a plain loop, epochs × steps per epoch).

Returns:
    ``forward(logits, targets, index)``: logits (N, K), integer labels (N,), positions (N,) in
    [0, num_examples); a scalar in the logits' dtype. In training mode the call stores the new
    predictions (buffers ``predictions`` and ``seen`` in ``state_dict()``) and advances the step
    counter ``step``. In eval mode it returns plain cross-entropy and updates nothing.
    ``reglab.functional.pskd_targets`` builds the blended targets.

Example:
    >>> import torch, reglab as rl
    >>> crit = rl.PSKD(num_examples=10, num_classes=3, alpha_T=0.8, total_steps=4)
    >>> z, y, idx = torch.randn(2, 3), torch.tensor([0, 2]), torch.tensor([3, 7])
    >>> loss = crit(z, y, idx)                  # first visit: plain one-hot targets
    >>> bool(torch.allclose(crit.predictions[3], torch.softmax(z[0], 0)))
    True
    >>> round(crit.alpha(), 2)                  # α for the next call: 0.8 · 2/4
    0.4

Reference:
    Kyungyul Kim, ByeongMoon Ji, Doyoung Yoon, Sangheum Hwang. Self-Knowledge Distillation with
    Progressive Refinement of Targets. ICCV 2021. arXiv:2006.12000.

Traps:
    - The paper raises α once per epoch (α_T·(e+1)/E, constant within an epoch); here α rises
      every training call. With T = epochs × steps per epoch the two agree at epoch ends and
      differ by less than α_T/E within an epoch.
    - Under an optimizer that evaluates the loss twice a step (SAM), the counter and the stored
      predictions advance twice; give T in calls.
    - Needs integer labels and sample positions; indices must be distinct within a batch.
    - Under DDP each process fills only the rows of the examples it sees (the official PS-KD
      code all-gathers them); checkpoint every rank's state, or gather before saving.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from reglab._core.registry import Capabilities, Family, Kind, Paper, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.validation import check_int, check_number
from reglab.losses._common import check_hard_targets, check_index, check_logits
from reglab.losses.soft_cross_entropy import soft_cross_entropy

PSKD_PAPER = Paper(
    authors="Kyungyul Kim, ByeongMoon Ji, Doyoung Yoon, Sangheum Hwang",
    title="Self-Knowledge Distillation with Progressive Refinement of Targets",
    year=2021,
    arxiv="2006.12000",
)


def pskd_targets(
    labels_one_hot: torch.Tensor, previous: torch.Tensor, alpha: float
) -> torch.Tensor:
    """(1 − α)·onehot + α·previous: the PS-KD soft targets, shape (N, K)."""
    return (1.0 - alpha) * labels_one_hot + alpha * previous.to(labels_one_hot.dtype)


def _sample(ctx: SampleContext) -> Sample:
    return Sample(
        kwargs={
            "num_examples": ctx.num_examples,
            "num_classes": ctx.num_classes,
            "alpha_T": 0.8,
            "total_steps": 3,
        },
        inputs=(ctx.logits, ctx.y, ctx.index),
        invalid=(
            {"num_examples": 0},
            {"num_classes": 0},
            {"alpha_T": 1.5},
            {"alpha_T": -0.1},
            {"total_steps": 0},
        ),
        identity={"alpha_T": 0.0},
        reference=lambda logits, y, index: F.cross_entropy(logits, y),
    )


@register(
    "ps-kd",
    family=Family.LOSS,
    kind=Kind.LOSS,
    paper=PSKD_PAPER,
    capabilities=Capabilities(needs_hard_labels=True, needs_sample_index=True),
    sample=_sample,
)
class PSKD(nn.Module):
    """Progressive self-knowledge distillation; see ``reglab.card("ps-kd")``."""

    predictions: torch.Tensor
    seen: torch.Tensor
    step: torch.Tensor

    def __init__(
        self, num_examples: int, num_classes: int, alpha_T: float = 0.8, *, total_steps: int
    ) -> None:
        super().__init__()
        self.num_examples = check_int("num_examples", num_examples, low=1)
        self.num_classes = check_int("num_classes", num_classes, low=1)
        self.alpha_T = check_number("alpha_T", alpha_T, low=0.0, high=1.0)
        self.total_steps = check_int("total_steps", total_steps, low=1)
        self.register_buffer("predictions", torch.zeros(self.num_examples, self.num_classes))
        self.register_buffer("seen", torch.zeros(self.num_examples, dtype=torch.bool))
        self.register_buffer("step", torch.zeros((), dtype=torch.long))

    def alpha(self) -> float:
        """α for the next training call: α_T · min(step + 1, T) / T."""
        return self.alpha_T * min(int(self.step) + 1, self.total_steps) / self.total_steps

    def forward(
        self, logits: torch.Tensor, targets: torch.Tensor, index: torch.Tensor | None = None
    ) -> torch.Tensor:
        check_logits(logits, self.num_classes)
        check_hard_targets("PSKD", logits, targets)
        if not self.training:
            return F.cross_entropy(logits, targets)
        index = check_index(index, self.num_examples, logits.shape[0]).to(self.predictions.device)
        alpha = self.alpha()
        self.step += 1
        one_hot = F.one_hot(targets, self.num_classes).to(logits.dtype)
        stored = self.predictions[index].to(logits.device, logits.dtype)
        previous = torch.where(self.seen[index].to(logits.device)[:, None], stored, one_hot)
        loss = soft_cross_entropy(logits, pskd_targets(one_hot, previous, alpha))
        self.predictions[index] = torch.softmax(logits.detach(), dim=-1).to(self.predictions)
        self.seen[index] = True
        return loss

    def extra_repr(self) -> str:
        return (
            f"num_examples={self.num_examples}, num_classes={self.num_classes}, "
            f"alpha_T={self.alpha_T:g}, total_steps={self.total_steps}"
        )
