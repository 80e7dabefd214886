"""Claims checks over a grid of arms (``over_grid``) and arms with inline recipes."""

import math
import statistics

import pytest
import yaml

from reglab.bench.claims import claims_using, evaluate, parse_claim
from reglab.bench.runs import Status
from reglab.bench.store import Store
from reglab.bench.train import RunResult


def _arm(method, strength):
    return {"recipe": {"methods": [{method: {"strength": strength}}]}}


GRID = {
    "id": "grid",
    "paper": "A Paper",
    "statement": "spectral is less sensitive to its strength than l2",
    "task": "digits",
    "model": {"arch": "mlp", "width": 16, "depth": 1},
    "budget": {"steps": 20, "eval_every": 10},
    "seeds": 4,
    "arms": {
        "s-lo": _arm("spectral", 1e-4),
        "s-hi": _arm("spectral", 1e-2),
        "l-lo": _arm("l2", 1e-4),
        "l-hi": _arm("l2", 1e-2),
    },
    "checks": [
        {"measure": "test_acc", "over_grid": "range",
         "difference": [["s-lo", "s-hi"], ["l-lo", "l-hi"]], "below": 0.0},
        {"measure": "test_acc", "over_grid": "min", "arm": ["s-lo", "s-hi"], "above": 0.8},
    ],
}
ACC = {  # arm -> test accuracy at seeds 0..3
    "s-lo": [0.90, 0.91, 0.89, 0.92],
    "s-hi": [0.88, 0.90, 0.90, 0.90],
    "l-lo": [0.90, 0.92, 0.90, 0.91],
    "l-hi": [0.60, 0.70, 0.55, 0.65],
}


def _t95(values):  # independent reference: mean ± t(0.975, n − 1)·sd/√n, n = 4
    mean, sd = statistics.mean(values), statistics.stdev(values)
    half = 3.182446305284263 * sd / math.sqrt(len(values))
    return mean, mean - half, mean + half


def test_inline_recipes_give_each_arm_its_own_methods_and_runs():
    claim = parse_claim(GRID, "x")
    configs = claim.configs(quick=False)
    assert configs["s-hi"][0].methods == [{"name": "spectral", "args": {"strength": 1e-2}}]
    assert configs["s-lo"][0].methods == [{"name": "spectral", "args": {"strength": 1e-4}}]
    assert configs["s-hi"][0].recipe == "s-hi"
    assert len({cs[0].key for cs in configs.values()}) == 4


def test_claims_using_reads_inline_recipes(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"claims": [GRID]}))
    assert claims_using("spectral", path) == ["grid"]
    assert claims_using("mixup", path) == []


def test_over_grid_range_and_min_are_judged_over_seeds(tmp_path):
    claim = parse_claim(GRID, "x")
    configs = claim.configs(quick=False)
    with Store(tmp_path / "r.db") as store:
        for arm, accs in ACC.items():
            for c, acc in zip(configs[arm], accs):
                store.write(c, RunResult(Status.DONE, {"test_acc": acc}, [], "", 1.0, 1.0, {}))
        result = evaluate(claim, store, quick=False)
    spread, worst = result["checks"]
    # plain loop reference: per seed, (max − min of spectral) − (max − min of l2)
    diffs = []
    for s in range(4):
        sp = [ACC["s-lo"][s], ACC["s-hi"][s]]
        l2 = [ACC["l-lo"][s], ACC["l-hi"][s]]
        diffs.append((max(sp) - min(sp)) - (max(l2) - min(l2)))
    mean, low, high = _t95(diffs)
    assert spread["mean"] == pytest.approx(mean) and spread["n"] == 4
    assert spread["low"] == pytest.approx(low) and spread["high"] == pytest.approx(high)
    assert spread["verdict"] == "held"
    assert "range over the grid of test_acc: [s-lo, s-hi] − [l-lo, l-hi] below 0" == spread["check"]
    mins = [min(ACC["s-lo"][s], ACC["s-hi"][s]) for s in range(4)]
    assert worst["mean"] == pytest.approx(statistics.mean(mins)) and worst["verdict"] == "held"
    assert result["verdict"] == "held"


def test_over_grid_spread_that_is_not_smaller_is_not_held(tmp_path):
    claim = parse_claim({**GRID, "checks": GRID["checks"][:1]}, "x")
    configs = claim.configs(quick=False)
    swapped = {"s-lo": "l-lo", "s-hi": "l-hi", "l-lo": "s-lo", "l-hi": "s-hi"}
    with Store(tmp_path / "r.db") as store:
        for arm in ACC:
            for c, acc in zip(configs[arm], ACC[swapped[arm]]):
                store.write(c, RunResult(Status.DONE, {"test_acc": acc}, [], "", 1.0, 1.0, {}))
        assert evaluate(claim, store, quick=False)["verdict"] == "not held"


@pytest.mark.parametrize(
    "check, message",
    [
        ({"over_grid": "spread", "arm": ["s-lo", "s-hi"], "above": 0}, "over_grid must be one of"),
        ({"over_grid": "range", "arm": ["s-lo"], "above": 0}, "at least two arms"),
        ({"over_grid": "range", "arm": "s-lo", "above": 0}, "a grid is a list"),
        ({"over_grid": "range", "difference": [["s-lo", "s-hi"]], "below": 0}, "over_grid needs"),
        ({"over_grid": "range", "difference": [["s-lo", "s-hi"], ["l-lo", "l-hx"]], "below": 0},
         "unknown arm 'l-hx'"),
        ({"over_grid": "range", "ratio": [["s-lo", "s-hi"], ["l-lo", "l-hi"]], "below": 1},
         "one grid"),
        ({"over_grid": "range", "over_seeds": "std", "arm": ["s-lo", "s-hi"], "below": 1},
         "one grid"),
        ({"over_grid": "range", "arm": ["s-lo", "s-hi"], "within": 1}, "'within' applies"),
    ],
)
def test_bad_over_grid_checks_are_refused(check, message):
    with pytest.raises(ValueError, match=message):
        parse_claim({**GRID, "checks": [{"measure": "test_acc", **check}]}, "x")
    steps = {"measure": "steps_to(test_acc >= 0.5)", "over_grid": "mean", "arm": ["s-lo", "s-hi"],
             "below": 10}
    with pytest.raises(ValueError, match="steps_to"):
        parse_claim({**GRID, "checks": [steps]}, "x")


def test_an_inline_recipe_with_an_unknown_method_is_refused():
    bad = {**GRID, "arms": {**GRID["arms"], "s-hi": {"recipe": {"methods": ["spectrall"]}}}}
    with pytest.raises(Exception, match="spectral"):
        parse_claim(bad, "x")
