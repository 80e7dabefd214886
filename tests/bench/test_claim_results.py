"""The record of a judged check: the verdict by the interval rule, inconclusive below two values."""

import json

from reglab.bench.claim_kinds import Compare, Threshold
from reglab.bench.claim_results import check_result
from reglab.bench.stats import Bound, Estimate


def test_verdict_follows_the_interval_and_the_record_is_plain_json():
    held = check_result("acc above 0.1", Compare.LEVEL, Threshold.ABOVE, 0.1, Estimate(0.3, 0.2, 0.4, 5), 5)
    assert held == {"check": "acc above 0.1", "compare": "level", "verdict": "held", "mean": 0.3,
                    "low": 0.2, "high": 0.4, "n": 5, "clipped": False, "bound": None, "censored": {}}
    assert json.loads(json.dumps(held)) == held
    straddles = Estimate(0.3, 0.05, 0.4, 5)
    assert check_result("t", Compare.DIFFERENCE, Threshold.ABOVE, 0.1, straddles, 5)["verdict"] == "inconclusive"
    below = Estimate(-0.3, -0.4, -0.2, 5)
    assert check_result("t", Compare.DIFFERENCE, Threshold.ABOVE, 0.1, below, 5)["verdict"] == "not held"
    assert check_result("t", Compare.DIFFERENCE, Threshold.BELOW, 0.1, below, 5)["verdict"] == "held"


def test_fewer_than_two_values_are_inconclusive_whatever_the_interval():
    est = Estimate(0.3, 0.2, 0.4, 1)
    assert check_result("t", Compare.LEVEL, Threshold.ABOVE, 0.1, est, 1)["verdict"] == "inconclusive"


def test_a_censored_estimate_records_its_bound_and_counts():
    est = Estimate(-350.0, -350.0, -350.0, 3, bound=Bound.UPPER)
    out = check_result("steps", Compare.DIFFERENCE, Threshold.BELOW, 0.0, est, 3, {"plain": [2, 3]})
    assert out["bound"] == str(Bound.UPPER) and out["censored"] == {"plain": [2, 3]} and out["verdict"] == "held"
