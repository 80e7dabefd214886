"""Claims judged from stored runs: verdicts, left-out runs, censored measures as bounds, intervals
clipped to a metric's range."""

import math

import pytest
from claim_fixtures import CLAIM, write

from reglab.bench.claims import evaluate, parse_claim
from reglab.bench.runs import Status
from reglab.bench.store import Store
from reglab.bench.train import RunResult


def test_verdicts_from_stored_runs(tmp_path):
    claim = parse_claim(CLAIM, "x")
    configs = claim.configs(quick=False)
    with Store(tmp_path / "r.db") as store:
        for c, acc in zip(configs["l2"], (0.95, 0.96, 0.94)):
            write(store, c, acc, ms=1.5)
        for c, acc in zip(configs["plain"], (0.80, 0.83, 0.81)):
            write(store, c, acc, ms=1.0)
        result = evaluate(claim, store, quick=False)
    diff, level, ratio, steps = result["checks"]
    assert (
        diff["mean"] == pytest.approx(0.1367, abs=1e-4)
        and diff["n"] == 3
        and diff["verdict"] == "held"
    )
    assert (
        level["verdict"] == "held"
        and ratio["mean"] == pytest.approx(1.5)
        and ratio["verdict"] == "held"
    )
    # l2 reached 0.9 at step 20, plain never did (censored at 20): 20 − (≥ 20) is a bound ≤ 0,
    # which cannot decide "below 0" (it was "not held" when the budget counted as a value)
    assert steps["mean"] == pytest.approx(0.0) and steps["bound"] == "upper"
    assert steps["verdict"] == "inconclusive" and steps["censored"] == {"plain": [3, 3]}
    assert result["verdict"] == "inconclusive"
    assert any("3 of 3 plain run(s) never reached it" in n for n in result["notes"])
    assert result["runs"]["l2"] == [c.key for c in configs["l2"]]


def test_missing_and_failed_runs_are_left_out_and_named(tmp_path):
    claim = parse_claim(CLAIM, "x")
    configs = claim.configs(quick=False)
    with Store(tmp_path / "r.db") as store:
        write(store, configs["l2"][0], 0.9)
        write(store, configs["plain"][0], 0.8)
        write(store, configs["l2"][1], math.nan, status=Status.DIVERGED)
        result = evaluate(claim, store, quick=False)
    assert result["checks"][0]["n"] == 1 and result["verdict"] == "inconclusive"
    assert (
        "l2 seed 1 left out (diverged: )" in result["notes"]
        and "plain seed 2 left out (missing)" in result["notes"]
    )


STEPS_CLAIM = {
    **CLAIM,
    "checks": [{"measure": "steps_to(test_acc >= 0.5)", "difference": ["l2", "plain"], "below": 0}],
}


def write_steps(store, config, reached_at):
    """A run whose test accuracy reaches 0.6 at ``reached_at`` (never, for None)."""
    curve = [(s, "test_acc", 0.6 if reached_at is not None and s >= reached_at else 0.1)
             for s in (0, 10, 20)]
    store.write(config, RunResult(Status.DONE, {"test_acc": curve[-1][2]}, curve, "", 1.0, 1.0, {}))


@pytest.mark.parametrize(
    "l2, plain, bound, verdict",
    [
        # every baseline run censored (the perpgrad-groks-faster case): 10 − (≥ 20) ≤ −10 for
        # every seed, a zero-width interval if the budget counted as a value; the bound decides
        ((10, 10, 10), (None, None, None), "upper", "held"),
        # a censored treatment: (≥ 20) − 10 ≥ 10: "below 0" is not held whatever the true value
        ((None, None, None), (10, 10, 10), "lower", "not held"),
        # censored both ways in different seeds: no bound, inconclusive
        ((None, 10, 10), (10, None, 10), "both", "inconclusive"),
        ((10, 10, 10), (20, 20, 20), None, "held"),  # nothing censored: the t-interval
    ],
)
def test_censored_steps_are_judged_as_bounds(tmp_path, l2, plain, bound, verdict):
    claim = parse_claim(STEPS_CLAIM, "x")
    configs = claim.configs(quick=False)
    with Store(tmp_path / "r.db") as store:
        for c, at in zip(configs["l2"], l2):
            write_steps(store, c, at)
        for c, at in zip(configs["plain"], plain):
            write_steps(store, c, at)
        result = evaluate(claim, store, quick=False)
    check = result["checks"][0]
    assert check["bound"] == bound and check["verdict"] == verdict
    expected = {arm: [sum(a is None for a in ats), 3]
                for arm, ats in (("l2", l2), ("plain", plain)) if None in ats}
    assert check["censored"] == expected


def test_interval_of_an_accuracy_stays_in_its_range(tmp_path):
    claim = parse_claim(CLAIM, "x")
    configs = claim.configs(quick=False)
    with Store(tmp_path / "r.db") as store:
        for c, acc in zip(configs["l2"], (1.0, 1.0, 0.9)):  # t-interval 0.967 ± 0.143
            write(store, c, acc)
        for c, acc in zip(configs["plain"], (0.0, 1.0, 0.0)):  # a difference of 1.0 ± 1.9
            write(store, c, acc)
        level = evaluate(claim, store, quick=False)["checks"][1]
        diff = evaluate(claim, store, quick=False)["checks"][0]
    assert level["high"] == 1.0 and level["low"] == pytest.approx(0.9667 - 0.1434, abs=1e-3)
    assert level["clipped"] and -1.0 <= diff["low"] and diff["high"] <= 1.0 and diff["clipped"]
