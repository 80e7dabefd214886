import math

import pytest
from scipy import stats as scipy_stats

from reglab.bench.stats import (
    Bound,
    Estimate,
    Verdict,
    combine,
    judge,
    ratio_interval,
    t_interval,
)


@pytest.mark.parametrize("values", [[0.1, 0.3, 0.2], [1.0, 2.0, 4.0, 8.0, 3.0], [5.0, 5.0]])
def test_t_interval_equals_scipy(values):
    est = t_interval(values)
    mean = sum(values) / len(values)
    sem = scipy_stats.sem(values)
    low, high = (
        (mean, mean)
        if sem == 0
        else scipy_stats.t.interval(0.95, len(values) - 1, loc=mean, scale=sem)
    )
    assert (est.mean, est.low, est.high, est.n) == pytest.approx((mean, low, high, len(values)))


def test_one_value_has_an_unbounded_interval_and_ratio_is_geometric():
    assert t_interval([0.5]) == Estimate(0.5, -math.inf, math.inf, 1)
    est = ratio_interval([0.5, 0.5, 0.5])
    assert est.mean == pytest.approx(0.5) and est.low == pytest.approx(0.5)
    assert ratio_interval([0.25, 1.0]).mean == pytest.approx(0.5)
    with pytest.raises(ValueError, match="ratios must be positive"):
        ratio_interval([0.5, -1.0])


@pytest.mark.parametrize(
    "low, high, kwargs, verdict",
    [
        (0.1, 0.2, {"above": 0.0}, Verdict.HELD),
        (-0.1, 0.2, {"above": 0.0}, Verdict.INCONCLUSIVE),
        (-0.3, 0.0, {"above": 0.0}, Verdict.NOT_HELD),
        (0.0, 0.0, {"above": 0.0}, Verdict.NOT_HELD),  # exactly no effect is not "above"
        (0.1, 0.5, {"below": 0.6}, Verdict.HELD),
        (0.6, 0.9, {"below": 0.6}, Verdict.NOT_HELD),
        (-0.01, 0.01, {"within": 0.02}, Verdict.HELD),
        (-0.01, 0.03, {"within": 0.02}, Verdict.INCONCLUSIVE),
        (0.03, 0.05, {"within": 0.02}, Verdict.NOT_HELD),
    ],
)
def test_verdict_rule(low, high, kwargs, verdict):
    assert judge(Estimate((low + high) / 2, low, high, 3), **kwargs) is verdict


def test_combining_checks():
    held, no, unsure = Verdict.HELD, Verdict.NOT_HELD, Verdict.INCONCLUSIVE
    assert combine([held, held]) is held
    assert combine([held, unsure]) is unsure
    assert combine([unsure, no, held]) is no
    assert combine([]) is unsure


def test_interval_is_clipped_to_the_range_and_says_so():
    values = [0.9, 1.0]  # two seeds: the t-interval is 0.95 ± 0.635, past an accuracy's 1
    free = t_interval(values)
    assert free.high > 1.0 and not free.clipped
    est = t_interval(values, (0.0, 1.0))
    assert (est.mean, est.low, est.high, est.clipped) == pytest.approx((0.95, free.low, 1.0, True))
    times = t_interval([0.5, 3.0], (0.0, math.inf))  # no negative step times
    assert times.low == 0.0 and times.clipped
    assert not t_interval([0.5, 0.6, 0.55], (0.0, 1.0)).clipped


@pytest.mark.parametrize(
    "bound, kwargs, verdict",
    [
        # the true effect is <= the high end (-350): a censored baseline
        (Bound.UPPER, {"below": 0.0}, Verdict.HELD),
        (Bound.UPPER, {"below": -400.0}, Verdict.INCONCLUSIVE),  # interval would say not held
        (Bound.UPPER, {"above": -300.0}, Verdict.NOT_HELD),
        (Bound.UPPER, {"above": -400.0}, Verdict.INCONCLUSIVE),  # interval would say held
        # the true effect is >= the low end (-350): a censored treatment
        (Bound.LOWER, {"above": -400.0}, Verdict.HELD),
        (Bound.LOWER, {"below": -400.0}, Verdict.NOT_HELD),
        (Bound.LOWER, {"below": 0.0}, Verdict.INCONCLUSIVE),  # interval would say held
        (Bound.BOTH, {"below": 0.0}, Verdict.INCONCLUSIVE),
        (Bound.UPPER, {"within": 1000.0}, Verdict.INCONCLUSIVE),
    ],
)
def test_a_censored_estimate_is_judged_by_its_bound_alone(bound, kwargs, verdict):
    est = Estimate(-350.0, -350.0, -350.0, 3, bound=bound)  # zero width: every run censored
    assert judge(est, **kwargs) is verdict


def test_bound_directions_combine():
    assert Bound.of(set()) is None and Bound.of({Bound.UPPER}) is Bound.UPPER
    assert Bound.of({Bound.UPPER, Bound.LOWER}) is Bound.BOTH
