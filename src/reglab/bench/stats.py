"""Effects over seeds with 95% intervals, and the verdict rule of a claim.

Interval: the Student-t interval of the mean over seeds, mean ± t_{0.975, n−1} · s / √n, of the
per-seed values (a level check) or of the per-seed paired differences treatment − baseline (a
difference check; runs of the same seed share split, noise and initialization). A ratio check
uses the t-interval of the mean log ratio, exponentiated (a geometric-mean ratio). With fewer
than 2 seeds the interval is unbounded. A metric with a range (an accuracy in [0, 1], a time or
a loss >= 0) has its interval clipped to that range, and the estimate says so (``clipped``):
with few seeds the t-interval can otherwise leave it (accuracy [0.744, 1.095]).

Verdict of one check against a threshold v:

- ``above v``: held if the interval's low end > v; not held if its high end <= v;
- ``below v``: held if the high end < v; not held if the low end >= v;
- ``within m`` (differences): held if the interval lies inside (−m, m); not held if it lies
  entirely outside it;
- otherwise inconclusive. A claim is held when all its checks are held, not held when any is
  not held, inconclusive otherwise.

Censored values (a run that never reached a ``steps_to`` threshold within its budget) are known
only as a bound: the true value is at least the budget. A per-seed value or difference that
involves one is then a bound too, and the estimate carries its direction (``Bound``): ``LOWER``
(the true effect is >= the value: the treatment or the single arm was censored), ``UPPER`` (the
true effect is <= the value: the baseline was censored) or ``BOTH`` (censored in both
directions: nothing is known). A censored estimate is a one-sided bound, not an interval: the
low end of the interval for ``LOWER`` ("≥ low"), the high end for ``UPPER`` ("≤ high"), and the
check is judged only when that bound alone decides it (``above v`` held when "≥ low" with low
> v; ``below v`` held when "≤ high" with high < v; and the mirror cases not held); anything
else, ``within`` and ``BOTH`` included, is inconclusive.

>>> est = t_interval([0.10, 0.12, 0.11])
>>> round(est.mean, 3), round(est.low, 3), round(est.high, 3)
(0.11, 0.085, 0.135)
>>> judge(est, above=0.0), judge(est, below=0.05), judge(est, below=0.1)
(<Verdict.HELD: 'held'>, <Verdict.NOT_HELD: 'not held'>, <Verdict.INCONCLUSIVE: 'inconclusive'>)
>>> t_interval([0.9, 1.0], bounds=(0.0, 1.0)).high, t_interval([0.9, 1.0], bounds=(0.0, 1.0)).clipped
(1.0, True)
>>> judge(Estimate(-350.0, -350.0, -350.0, 3, bound=Bound.UPPER), below=0.0)  # baseline censored
<Verdict.HELD: 'held'>
>>> judge(Estimate(-350.0, -350.0, -350.0, 3, bound=Bound.UPPER), above=-400.0)
<Verdict.INCONCLUSIVE: 'inconclusive'>
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


class Bound(StrEnum):
    """Which way censored values bound an estimate (see the module docstring)."""

    LOWER = "lower"  # the true effect is >= the estimate
    UPPER = "upper"  # the true effect is <= the estimate
    BOTH = "both"  # censored both ways: no bound

    @classmethod
    def of(cls, directions: set[Bound]) -> Bound | None:
        """The bound of values censored in ``directions`` (None when none is)."""
        if not directions:
            return None
        return next(iter(directions)) if len(directions) == 1 else cls.BOTH


@dataclass(frozen=True)
class Estimate:
    """A mean over ``n`` seeds with its 95% interval [low, high].

    ``clipped``: an end was clipped to the metric's range; ``bound``: some values were censored,
    so the estimate is a one-sided bound (see the module docstring).
    """

    mean: float
    low: float
    high: float
    n: int
    clipped: bool = False
    bound: Bound | None = None

    @property
    def limit(self) -> float:
        """The one-sided bound of a censored estimate: low for LOWER, high for UPPER."""
        return self.low if self.bound is Bound.LOWER else self.high


def _t_quantile(df: int) -> float:
    from scipy.stats import t

    return float(t.ppf(0.975, df))


def t_interval(
    values: Sequence[float], bounds: tuple[float, float] = (-math.inf, math.inf)
) -> Estimate:
    """Mean and 95% Student-t interval of ``values``, clipped to ``bounds`` (the metric's range)."""
    n = len(values)
    if n == 0:
        return Estimate(math.nan, -math.inf, math.inf, 0)
    mean = sum(values) / n
    if n < 2:
        return Estimate(mean, -math.inf, math.inf, n)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = _t_quantile(n - 1) * sd / math.sqrt(n)
    low, high = mean - half, mean + half
    clipped = low < bounds[0] or high > bounds[1]
    return Estimate(mean, max(low, bounds[0]), min(high, bounds[1]), n, clipped)


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
    if est.bound is not None:
        return _judge_bound(est, above, below, within)
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


def _judge_bound(
    est: Estimate, above: float | None, below: float | None, within: float | None
) -> Verdict:
    """A censored estimate: judged only when its one-sided bound alone decides the check."""
    if above is None and below is None and within is None:
        raise ValueError("give one of above, below, within")
    if est.bound is Bound.BOTH or within is not None:
        return Verdict.INCONCLUSIVE
    x = est.limit
    if est.bound is Bound.LOWER:  # true effect >= x
        if above is not None and x > above:
            return Verdict.HELD
        if below is not None and x >= below:
            return Verdict.NOT_HELD
    else:  # true effect <= x
        if below is not None and x < below:
            return Verdict.HELD
        if above is not None and x <= above:
            return Verdict.NOT_HELD
    return Verdict.INCONCLUSIVE


def combine(verdicts: Sequence[Verdict]) -> Verdict:
    if any(v is Verdict.NOT_HELD for v in verdicts):
        return Verdict.NOT_HELD
    if verdicts and all(v is Verdict.HELD for v in verdicts):
        return Verdict.HELD
    return Verdict.INCONCLUSIVE
