"""Effects over seeds with 95% intervals, and the verdict rule of a claim.

Interval: the Student-t interval of the mean over seeds, mean ± t_{0.975, n−1} · s / √n, of the
per-seed values (a level check) or of the per-seed paired differences treatment − baseline (a
difference check; runs of the same seed share split, noise and initialization). A ratio check
uses the t-interval of the mean log ratio, exponentiated (a geometric-mean ratio). With fewer
than 2 seeds the interval is unbounded.

Verdict of one check against a threshold v:

- ``above v``: held if the interval's low end > v; not held if its high end <= v;
- ``below v``: held if the high end < v; not held if the low end >= v;
- ``within m`` (differences): held if the interval lies inside (−m, m); not held if it lies
  entirely outside it;
- otherwise inconclusive. A claim is held when all its checks are held, not held when any is
  not held, inconclusive otherwise.

>>> est = t_interval([0.10, 0.12, 0.11])
>>> round(est.mean, 3), round(est.low, 3), round(est.high, 3)
(0.11, 0.085, 0.135)
>>> judge(est, above=0.0), judge(est, below=0.05), judge(est, below=0.1)
(<Verdict.HELD: 'held'>, <Verdict.NOT_HELD: 'not held'>, <Verdict.INCONCLUSIVE: 'inconclusive'>)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class Verdict(StrEnum):
    """The outcome of a check or a claim."""

    HELD = "held"
    NOT_HELD = "not held"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class Estimate:
    """A mean over ``n`` seeds with its 95% interval [low, high]."""

    mean: float
    low: float
    high: float
    n: int


def _t_quantile(df: int) -> float:
    from scipy.stats import t

    return float(t.ppf(0.975, df))


def t_interval(values: Sequence[float]) -> Estimate:
    """Mean and 95% Student-t interval of ``values``."""
    n = len(values)
    if n == 0:
        return Estimate(math.nan, -math.inf, math.inf, 0)
    mean = sum(values) / n
    if n < 2:
        return Estimate(mean, -math.inf, math.inf, n)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = _t_quantile(n - 1) * sd / math.sqrt(n)
    return Estimate(mean, mean - half, mean + half, n)


def ratio_interval(ratios: Sequence[float]) -> Estimate:
    """Geometric mean of positive ``ratios`` with the exponentiated t-interval of the logs."""
    if any(r <= 0 or not math.isfinite(r) for r in ratios):
        raise ValueError(f"ratios must be positive and finite, got {list(ratios)}")
    est = t_interval([math.log(r) for r in ratios])
    return Estimate(
        math.exp(est.mean) if est.n else math.nan, math.exp(est.low), math.exp(est.high), est.n
    )


def judge(
    est: Estimate,
    above: float | None = None,
    below: float | None = None,
    within: float | None = None,
) -> Verdict:
    """The verdict of one check (see the module docstring); exactly one threshold is given."""
    if est.n == 0 or math.isnan(est.mean):
        return Verdict.INCONCLUSIVE
    if above is not None:
        return (
            Verdict.HELD
            if est.low > above
            else Verdict.NOT_HELD
            if est.high <= above
            else Verdict.INCONCLUSIVE
        )
    if below is not None:
        return (
            Verdict.HELD
            if est.high < below
            else Verdict.NOT_HELD
            if est.low >= below
            else Verdict.INCONCLUSIVE
        )
    if within is not None:
        if -within < est.low and est.high < within:
            return Verdict.HELD
        if est.low >= within or est.high <= -within:
            return Verdict.NOT_HELD
        return Verdict.INCONCLUSIVE
    raise ValueError("give one of above, below, within")


def combine(verdicts: Sequence[Verdict]) -> Verdict:
    if any(v is Verdict.NOT_HELD for v in verdicts):
        return Verdict.NOT_HELD
    if verdicts and all(v is Verdict.HELD for v in verdicts):
        return Verdict.HELD
    return Verdict.INCONCLUSIVE
