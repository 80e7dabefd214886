"""L2-SP penalty: keep fine-tuned weights near the pretrained starting point.

Equation::

    R(w) = λ · ½ Σ_t ‖w_t − w_t^pre‖²₂

w^pre are the pretrained weights: a copy of the selected weights taken when the penalty is built
(build it right after loading the checkpoint), or tensors you give, e.g. the pretrained
``state_dict()``. Fine-tuning on little data then moves away from the pretrained solution only
as far as the task needs, which preserves what pretraining learned.

Arguments:
    params: a selection (``reglab.select``), a module (its "weights" selection: no biases, norm
        layers or embeddings) or an iterable of tensors; at least one tensor, all finite.
    strength: λ >= 0, a float or a ``reglab.schedules`` schedule.
    anchors: ``None`` (snapshot now), a sequence of tensors in the selection's order, or a mapping
        from the selection's parameter names to tensors (a pretrained ``state_dict()``).

Returns:
    ``forward()`` returns a scalar tensor, λ·R(w), in the parameters' dtype.

Example:
    >>> import torch, reglab as rl
    >>> backbone = torch.nn.Linear(3, 2)
    >>> pretrained = {k: v.clone() for k, v in backbone.state_dict().items()}
    >>> pen = rl.L2SP(backbone, strength=0.1, anchors=pretrained)
    >>> with torch.no_grad():
    ...     _ = backbone.weight.mul_(0.0)
    >>> bool(torch.isclose(pen(), 0.05 * pretrained["weight"].square().sum()))
    True

Reference:
    Prasetya Ajie Utama, Nafise Sadat Moosavi, Victor Sanh, Iryna Gurevych. Avoiding Inference
    Heuristics in Few-shot Prompt-based Finetuning. EMNLP 2021. arXiv:2109.04144 (regularized
    fine-tuning: L + (λ/2)‖θ − θ_pre‖² keeps the zero-shot model's robustness). The penalty is
    L2-SP of Xuhong Li, Yves Grandvalet, Franck Davoine, "Explicit Inductive Bias for Transfer
    Learning with Convolutional Networks", ICML 2018.

Reading taken:
    Li et al.'s L2-SP also puts a plain L2 penalty (its own β) on the new layers that have no
    pretrained value; here that is a separate ``reglab.L2`` on the new head (composition, not a
    flag), and every selected tensor needs an anchor.

Traps:
    - Select only layers that have pretrained values (leave a freshly initialized head out, or
      give its anchors explicitly); a snapshot of a random head anchors to noise.
    - The ½ factor, as in ``reglab.L2`` and the paper's λ/2: the gradient coefficient is λ.
    - The anchors are buffers on the parameters' device: move the model before building the
      penalty, or move the penalty with ``.to(...)`` too.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from reglab._core.registry import Family, Kind, Paper, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.schedules import Schedule
from reglab._core.selection import Selection
from reglab.penalties._anchor import AnchorPenalty, Anchors, add_anchor_gradient_

INFERENCE_HEURISTICS = Paper(
    authors="Prasetya Ajie Utama, Nafise Sadat Moosavi, Victor Sanh, Iryna Gurevych",
    title="Avoiding Inference Heuristics in Few-shot Prompt-based Finetuning",
    year=2021,
    arxiv="2109.04144",
)


def _sample(ctx: SampleContext) -> Sample:
    pretrained = {k: v.detach() + 0.1 for k, v in ctx.model.state_dict().items()}
    return Sample(
        kwargs={"params": ctx.model, "strength": 0.1, "anchors": pretrained},
        invalid=(
            {"strength": -0.1}, {"anchors": {"0.weight": pretrained["0.weight"]}},
            {"anchors": {k: v[:1] for k, v in pretrained.items()}},
            {"anchors": {k: v * float("nan") for k, v in pretrained.items()}},
        ),
        identity={"strength": 0.0},
    )


@register(
    "l2-sp",
    family=Family.PARAMETER_PENALTY,
    kind=Kind.PENALTY,
    paper=INFERENCE_HEURISTICS,
    sample=_sample,
)
class L2SP(AnchorPenalty):
    """λ · ½ Σ‖w − w^pre‖² towards pretrained weights; see ``reglab.card("l2-sp")``."""

    def __init__(
        self,
        params: Selection | nn.Module | Iterable[torch.Tensor],
        strength: float | Schedule = 1e-4,
        anchors: Anchors = None,
    ) -> None:
        super().__init__(params, strength, anchors)

    def add_gradient_(self, params: list[torch.Tensor], grads: list[torch.Tensor], lam: float) -> None:
        add_anchor_gradient_(grads, params, self.anchors(), lam)  # grads += λ·(w − w₀)
