"""``compute:`` claims (reglab.bench.computed_claims): judged on a function's numbers over seeds,
parsed, stored, listed and reported like run-based claims."""

import math
import statistics
import sys
import types

import pytest
import yaml

from reglab._cli.main import main
from reglab.bench.claims import evaluate, load_claims, parse_claim
from reglab.bench.computed_claims import parse_value_check
from reglab.bench.store import Store

CALLS: list[tuple[int, int]] = []


def _toy(seed: int, scale: int = 1) -> dict:
    """A stand-in computation: numbers that depend on the seed, and a non-number (left out)."""
    CALLS.append((seed, scale))
    return {
        "gap": 0.1 * scale + 0.01 * seed,
        "fits_a": 50.0 + seed,
        "fits_b": 100.0,
        "history": [1, 2, 3],
    }


@pytest.fixture
def toy_module(monkeypatch):
    module = types.ModuleType("toy_compute")
    module.toy = _toy
    module.not_callable = 3
    monkeypatch.setitem(sys.modules, "toy_compute", module)
    CALLS.clear()
    return module


CLAIM = {
    "id": "toy-computed",
    "paper": "A Paper",
    "statement": "the gap is small and a needs fewer fits than b",
    "compute": "toy_compute:toy",
    "args": {"scale": 2},
    "seeds": 3,
    "checks": [
        {"value": "gap", "below": 0.5},
        {"ratio": ["fits_a", "fits_b"], "below": 1.0},
        {"difference": ["fits_a", "fits_b"], "above": 0.0},
    ],
    "quick": {"skip": "full mode only"},
}


def _t95(values):  # independent reference, n = 3: t(0.975, 2) = 4.302652729911275
    mean, sd = statistics.mean(values), statistics.stdev(values)
    half = 4.302652729911275 * sd / math.sqrt(len(values))
    return mean, mean - half, mean + half


def test_a_computed_claim_is_judged_over_seeds_like_a_run_based_one(toy_module, tmp_path):
    claim = parse_claim(CLAIM, "x")
    assert claim.configs(quick=False) == {}  # no training runs
    with Store(tmp_path / "r.db") as store:
        result = evaluate(claim, store, quick=False)
    assert CALLS == [(0, 2), (1, 2), (2, 2)]
    gap, ratio, diff = result["checks"]
    mean, low, high = _t95([0.2, 0.21, 0.22])
    assert gap["check"] == "gap below 0.5" and gap["n"] == 3
    assert (gap["mean"], gap["low"], gap["high"]) == pytest.approx((mean, low, high))
    assert gap["verdict"] == "held"
    logs = [math.log((50.0 + s) / 100.0) for s in range(3)]
    m, lo, hi = _t95(logs)
    assert ratio["check"] == "fits_a / fits_b below 1"
    assert (ratio["mean"], ratio["low"], ratio["high"]) == pytest.approx(
        (math.exp(m), math.exp(lo), math.exp(hi))
    )
    assert ratio["verdict"] == "held"
    assert diff["check"] == "fits_a − fits_b above 0" and diff["verdict"] == "not held"
    assert result["verdict"] == "not held" and result["runs"] == {}
    assert result["compute"] == "toy_compute:toy" and result["compute_s"] >= 0.0
    assert result["computed"]["1"] == {"gap": pytest.approx(0.21), "fits_a": 51.0,
                                       "fits_b": 100.0}  # the history is left out


def test_one_seed_is_inconclusive(toy_module, tmp_path):
    claim = parse_claim({**CLAIM, "seeds": 1, "checks": CLAIM["checks"][:1]}, "x")
    with Store(tmp_path / "r.db") as store:
        result = evaluate(claim, store, quick=False)
    assert result["checks"][0]["n"] == 1 and result["verdict"] == "inconclusive"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"compute": "toy_compute"}, "module:function"),
        ({"compute": "no_such_module_x:f"}, "cannot import 'no_such_module_x'"),
        ({"compute": "toy_compute:nothing"}, "has no 'nothing'"),
        ({"compute": "toy_compute:not_callable"}, "not callable"),
        ({"arms": {"a": "none"}}, "a compute claim has no arms"),
        ({"args": {"seed": 3}}, "besides seed"),
        ({"checks": []}, "at least one check"),
        ({"checks": [{"value": "gap"}]}, "one of value/difference/ratio"),
        ({"checks": [{"ratio": ["gap"], "below": 1}]}, "two returned names"),
        ({"checks": [{"value": "gap", "within": 1}]}, "'within' applies"),
        ({"checks": [{"value": "gap", "below": "x"}]}, "below must be a number"),
        ({"quick": {"budget": {"steps": 3}}}, "unknown key 'budget'"),
    ],
)
def test_bad_computed_claims_are_refused(toy_module, change, message):
    with pytest.raises(ValueError, match=message):
        parse_claim({**CLAIM, **change}, "x")


def test_args_belong_to_compute_claims_only():
    with pytest.raises(ValueError, match="args applies to a compute claim"):
        parse_claim({"id": "a", "paper": "p", "statement": "s", "task": "digits",
                     "arms": {"a": "none"}, "checks": [{"measure": "test_acc", "arm": "a",
                                                        "above": 0}], "args": {"x": 1}}, "x")


def test_a_missing_number_makes_the_check_inconclusive():
    check = parse_value_check({"value": "missing", "below": 1}, "x")
    assert math.isnan(check.of({"gap": 1.0}))


def test_reproduce_lists_runs_stores_and_reports_a_computed_claim(toy_module, tmp_path, capsys):
    path = tmp_path / "claims.yaml"
    path.write_text(yaml.safe_dump({"claims": [{**CLAIM, "checks": CLAIM["checks"][:2]}]}))
    assert [c.id for c in load_claims(path)] == ["toy-computed"]
    assert main(["reproduce", "--claims-file", str(path), "--list"]) == 0
    assert "toy-computed" in capsys.readouterr().out
    results = tmp_path / "r"
    argv = ["reproduce", "--claims-file", str(path), "--results", str(results), "--workers", "1"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "toy-computed" in out and "1 held, 0 not held" in out
    with Store(results / "results.db", readonly=True) as store:
        [(claim, mode, stored)] = store.claims()
    assert (claim, mode, stored["verdict"]) == ("toy-computed", "full", "held")
    assert main(["report", "--results", str(results), "--out", str(tmp_path / "rep")]) == 0
    summary = (tmp_path / "rep" / "summary.md").read_text()
    assert "toy-computed" in summary and "toy_compute:toy" in summary
    assert "fits_a" in summary and "0.21" in summary  # the numbers of each call
