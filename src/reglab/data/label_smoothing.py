"""Label smoothing, and two-stage label smoothing (TSLA) when the smoothing follows a schedule.

Equation::

    ỹ = (1 − θ_t) · y + θ_t / K          (y one-hot or soft, K classes, t = step counter)

TSLA (Two-Stage LAbel smoothing) smooths during the first T steps and trains on the plain
labels afterwards: ``smoothing=reglab.schedules.early(θ, until=T)``.

Arguments:
    smoothing: θ in [0, 1), a float or a ``reglab.schedules`` schedule over the training calls;
        the step counter is in ``state_dict()`` and advances once per call in training mode.
    num_classes: K >= 1, needed when ``y`` holds integer labels; ``None`` accepts soft targets.

Returns:
    ``(x, targets)``: ``x`` unchanged (the same tensor); ``targets`` (N, K) in x's dtype (the
    default dtype when x is not floating point, e.g. token ids), rows summing to 1. Eval mode
    returns the unsmoothed one-hot targets. ``reglab.functional.smooth_labels(targets, θ)`` is
    the formula.

Example:
    >>> import torch, torch.nn.functional as F, reglab as rl
    >>> ls = rl.LabelSmoothing(smoothing=0.1, num_classes=4)
    >>> logits, y = torch.randn(3, 4, dtype=torch.float64), torch.tensor([0, 3, 1])
    >>> _, soft = ls(logits, y)
    >>> bool(torch.isclose(rl.soft_cross_entropy(logits, soft),
    ...                    F.cross_entropy(logits, y, label_smoothing=0.1)))
    True
    >>> tsla = rl.LabelSmoothing(rl.schedules.early(0.1, until=2), num_classes=4)
    >>> [round(float(tsla(logits, y)[1][0, 1]), 3) for _ in range(3)]   # off after 2 steps
    [0.025, 0.025, 0.0]

Reference:
    Yi Xu, Yuanhong Xu, Qi Qian, Hao Li, Rong Jin. Towards Understanding Label Smoothing.
    2020. arXiv:2006.11653 (the two-stage algorithm TSLA and its convergence analysis; label
    smoothing itself is from Szegedy et al., Rethinking the Inception Architecture, 2016).

Traps:
    - θ/K goes to every class including the true one, as in ``F.cross_entropy(...,
      label_smoothing=θ)``; some papers spread θ over the K − 1 wrong classes only.
    - The paper switches after T1 *epochs*; here T counts training calls, so give
      ``until = T1 × steps_per_epoch``.
    - The transform only builds targets: pair it with a loss that accepts soft targets.
"""

from __future__ import annotations

import torch

from reglab._core.registry import Capabilities, Family, Kind, Paper, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.schedules import Schedule, Strength
from reglab._core.validation import check_strength
from reglab.data._base import BatchTransform

TSLA = Paper(
    authors="Yi Xu, Yuanhong Xu, Qi Qian, Hao Li, Rong Jin",
    title="Towards Understanding Label Smoothing",
    year=2020,
    arxiv="2006.11653",
)


def smooth_labels(targets: torch.Tensor, smoothing: float) -> torch.Tensor:
    """(1 − θ)·targets + θ/K for soft targets (..., K) and θ = ``smoothing``."""
    num_classes = targets.shape[-1]
    return targets * (1.0 - smoothing) + smoothing / num_classes


def _sample(ctx: SampleContext) -> Sample:
    return Sample(
        kwargs={"smoothing": 0.1, "num_classes": ctx.num_classes},
        inputs=(ctx.x, ctx.y),
        invalid=({"smoothing": 1.0}, {"smoothing": -0.1}, {"num_classes": 0}),
        identity={"smoothing": 0.0},
    )


@register(
    "label-smoothing",
    family=Family.BATCH_TRANSFORM,
    kind=Kind.TRANSFORM,
    paper=TSLA,
    capabilities=Capabilities(changes_targets=True),
    sample=_sample,
)
class LabelSmoothing(BatchTransform):
    """Smoothed soft targets; see the module docstring (``reglab.card("label-smoothing")``)."""

    def __init__(self, smoothing: float | Schedule = 0.1, num_classes: int | None = None) -> None:
        super().__init__(num_classes)
        self.smoothing = Strength(check_strength("smoothing", smoothing, high=1.0, high_open=True))

    def transform(
        self, x: torch.Tensor, targets: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        theta = self.smoothing()
        self.smoothing.advance()
        if theta == 0.0:
            return x, targets
        return x, smooth_labels(targets, theta)

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}"
