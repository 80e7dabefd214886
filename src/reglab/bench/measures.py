"""What a claim measures on one run: a final metric or a summary of its curve.

======================  =======================================================================
``test_acc``            the final value (any metric of ``reglab.bench.evaluation``)
``max(test_acc)``       the largest value over the evaluations (``min(...)`` likewise)
``mean_log(train_loss)``  the mean of log(value) over the evaluations after step 0 (the area
                        under the log curve: lower means lower throughout training)
``steps_to(m >= v)``    the first evaluated step where the metric reaches v (``<=`` too); a run
                        that never does is censored: its value is known only to be >= its
                        budget of steps, and the claim reports a bound ("≥") and how many
                        runs never reached v (see ``reglab.bench.stats``)
======================  =======================================================================

``Measure.range`` is the interval the values live in (accuracies and ECE in [0, 1], losses and
times >= 0); intervals over seeds are clipped to it.

>>> Measure.parse("steps_to(test_acc >= 0.95)")
Measure(text='steps_to(test_acc >= 0.95)', kind='steps_to', metric='test_acc', op='>=', threshold=0.95)
>>> try:
...     Measure.parse("test_accuracy")
... except UnknownNameError as e:
...     print(str(e).split(";")[0])
unknown metric 'test_accuracy' (did you mean 'test_acc' or 'noisy_test_acc' or 'test_ece'?)
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from reglab._core.registry import UnknownNameError
from reglab._core.validation import did_you_mean
from reglab.bench.evaluation import CURVE_METRICS, METRICS, NOISE_METRICS, SHIFT_METRICS
from reglab.bench.store import RunRow
from reglab.bench.tasks.bit_flipping import BIT_METRICS
from reglab.bench.tasks.diffusion_2d import DIFFUSION_METRICS
from reglab.bench.tasks.permuted import SEQUENCE_CURVES, SEQUENCE_METRICS

# Every metric a check can name: final values, and the curves recorded during a run.
_FINAL = tuple(dict.fromkeys((*METRICS, *SEQUENCE_METRICS, *BIT_METRICS, *DIFFUSION_METRICS)))
_CURVES = (*CURVE_METRICS, *NOISE_METRICS, *SHIFT_METRICS, *SEQUENCE_CURVES, "window_error", "sample_swd")

# The range of each metric's values (the rest: unbounded); intervals over seeds are clipped to it.
_UNIT = (
    *("train_acc", "test_acc", "test_ece", "clean_train_acc", "memorized", "noisy_true_acc"),
    *("shift_acc", "zero_activations", "noisy_test_acc", "zero_rows", "zero_weights"),
    *("task_acc", "first_tasks_acc", "last_tasks_acc"),
    *("dead_fraction", "dead_fraction_first", "dead_fraction_last"),
)
# step_loss is left unbounded: a penalty may make it negative.
_NON_NEGATIVE = ("train_loss", "test_loss", "step_ms", "feature_rank", "jacobian_norm",
                 *DIFFUSION_METRICS)
RANGES: dict[str, tuple[float, float]] = {
    **{m: (0.0, 1.0) for m in _UNIT},
    **{m: (0.0, math.inf) for m in _NON_NEGATIVE},
}

_CALL = re.compile(r"^(max|min|mean_log)\(\s*([a-z_]+)\s*\)$")
_STEPS_TO = re.compile(r"^steps_to\(\s*([a-z_]+)\s*(>=|<=)\s*([-+0-9.eE]+)\s*\)$")


def _metric(name: str, curve: bool) -> str:
    known = _CURVES if curve else _FINAL
    if name not in known:
        raise UnknownNameError(
            f"unknown metric {name!r}{did_you_mean(name, known)}; metrics: {', '.join(known)}"
        )
    return name


@dataclass(frozen=True)
class Measure:
    """A parsed measure (see the module docstring); ``of(row, curve)`` evaluates it on a run."""

    text: str
    kind: str  # final, max, min, mean_log, steps_to
    metric: str
    op: str | None = None
    threshold: float | None = None

    @classmethod
    def parse(cls, text: str) -> Measure:
        text = str(text).strip()
        if m := _CALL.match(text):
            return cls(text, m.group(1), _metric(m.group(2), curve=True))
        if m := _STEPS_TO.match(text):
            try:
                threshold = float(m.group(3))
            except ValueError:
                raise ValueError(f"measure {text!r}: {m.group(3)!r} is not a number") from None
            return cls(text, "steps_to", _metric(m.group(1), curve=True), m.group(2), threshold)
        if "(" in text:
            raise ValueError(
                f"measure {text!r}: write NAME, max(NAME), min(NAME), mean_log(NAME) or steps_to(NAME >= V)"
            )
        return cls(text, "final", _metric(text, curve=False))

    @property
    def range(self) -> tuple[float, float]:
        """The interval this measure's values live in (for one run)."""
        if self.kind == "steps_to":
            return (0.0, math.inf)
        if self.kind == "mean_log":
            low, high = RANGES.get(self.metric, (-math.inf, math.inf))
            return (-math.inf, math.log(high) if 0 < high < math.inf else math.inf)
        return RANGES.get(self.metric, (-math.inf, math.inf))

    @property
    def needs_curve(self) -> bool:
        return self.kind != "final"

    def of(self, row: RunRow, curve: list[tuple[int, float]] | None = None) -> tuple[float, bool]:
        """(value, censored) on one run; ``curve`` is the metric's [(step, value)] when needed."""
        if self.kind == "final":
            value = row.value(self.metric)
            return (math.nan if value is None else float(value)), False
        points = [(s, v) for s, v in (curve or []) if not math.isnan(v)]
        if self.kind in ("max", "min"):
            values = [v for _, v in points]
            return ((max if self.kind == "max" else min)(values) if values else math.nan), False
        if self.kind == "mean_log":
            logs = [math.log(v) if v > 0 else -math.inf for s, v in points if s > 0]
            return (sum(logs) / len(logs) if logs else math.nan), False
        for step, value in points:
            if (value >= self.threshold) if self.op == ">=" else (value <= self.threshold):  # type: ignore[operator]
                return float(step), False
        return float(row.config.steps), True
