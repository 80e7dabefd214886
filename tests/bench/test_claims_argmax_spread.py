"""The 2-D ``over_grid: argmax_spread`` check of claims (how far the best strength moves across
the rows of a learning rate × strength grid), against a plain loop."""

import math
import statistics

import pytest

from reglab.bench.claims import argmax_spread, evaluate, parse_claim
from reglab.bench.runs import Status
from reglab.bench.store import Store
from reglab.bench.train import RunResult

LRS, WDS = ("a", "b"), ("1", "2", "3")


def _arm(method, strength, lr):
    return {
        "recipe": {"methods": [{method: {"strength": strength}}]},
        "optimizer": {"name": "adam", "lr": lr},
    }


ARMS = {
    f"{m}-{lr}-{w}": _arm(method, 10.0 ** -int(w), {"a": 1e-3, "b": 1e-2}[lr])
    for m, method in (("s", "spectral"), ("l", "l2"))
    for lr in LRS
    for w in WDS
}
S_GRID = [[f"s-{lr}-{w}" for w in WDS] for lr in LRS]
L_GRID = [[f"l-{lr}-{w}" for w in WDS] for lr in LRS]
CLAIM = {
    "id": "lr-wd",
    "paper": "A Paper",
    "statement": "the best strength of s moves less with the learning rate than l's",
    "task": "digits",
    "model": {"arch": "mlp", "width": 16, "depth": 1},
    "budget": {"steps": 20, "eval_every": 10},
    "seeds": 4,
    "arms": ARMS,
    "checks": [
        {"measure": "test_acc", "over_grid": "argmax_spread", "difference": [S_GRID, L_GRID],
         "below": 0.0},
        {"measure": "test_acc", "over_grid": "argmax_spread", "arm": S_GRID, "below": 1.0},
    ],
}


def _acc(arm: str, seed: int) -> float:
    """s: its best strength is column 1 at both rates; l: column 0 at rate a, column 2 at b
    (seed 3: column 1 at b); small seed-dependent wiggles elsewhere."""
    m, lr, w = arm.split("-")
    best = {"s": {"a": 1, "b": 1}, "l": {"a": 0, "b": 1 if seed == 3 else 2}}[m][lr]
    return 0.9 if int(w) - 1 == best else 0.8 + 0.01 * ((seed + int(w)) % 3)


def test_argmax_spread_of_rows_splits_ties_between_columns():
    assert argmax_spread([[1.0, 2.0], [2.0, 1.0]]) == 1.0
    assert argmax_spread([[1.0, 1.0, 0.0], [0.0, 0.5, 0.5]]) == 1.0  # 0.5 vs 1.5
    assert argmax_spread([[3.0, 1.0], [3.0, 1.0], [3.0, 1.0]]) == 0.0


def test_argmax_spread_difference_is_judged_over_seeds(tmp_path):
    claim = parse_claim(CLAIM, "x")
    configs = claim.configs(quick=False)
    assert configs["s-b-2"][0].optimizer["lr"] == 1e-2
    with Store(tmp_path / "r.db") as store:
        for arm, cs in configs.items():
            for c in cs:
                store.write(c, RunResult(Status.DONE, {"test_acc": _acc(arm, c.seed)}, [], "", 1.0,
                                         1.0, {}))
        result = evaluate(claim, store, quick=False)
    spread, level = result["checks"]
    # plain loop: per seed, the best column of each rate, spread over the rates, s − l
    diffs = []
    for seed in range(4):
        per = {}
        for m in ("s", "l"):
            cols = []
            for lr in LRS:
                accs = [_acc(f"{m}-{lr}-{w}", seed) for w in WDS]
                cols.append(accs.index(max(accs)))
            per[m] = max(cols) - min(cols)
        diffs.append(per["s"] - per["l"])
    assert diffs == [-2, -2, -2, -1]
    mean, sd = statistics.mean(diffs), statistics.stdev(diffs)
    half = 3.182446305284263 * sd / math.sqrt(4)
    assert spread["mean"] == pytest.approx(mean) and spread["n"] == 4
    # clipped to the range of a difference of spreads in a 3-column grid, [−2, 2]
    assert mean - half < -2 and spread["clipped"]
    assert spread["low"] == -2.0 and spread["high"] == pytest.approx(mean + half)
    assert spread["verdict"] == "held"
    assert spread["check"] == (
        "argmax_spread over the grid of test_acc: [s-a-1 … s-b-3 (2×3)] − [l-a-1 … l-b-3 (2×3)] "
        "below 0"
    )
    # one grid: s never moves, the level is 0 with no spread (clipped to [0, 2])
    assert level["mean"] == 0.0 and level["verdict"] == "held"


@pytest.mark.parametrize(
    "grid, message",
    [
        (["s-a-1", "s-a-2"], "at least two rows"),
        ([["s-a-1", "s-a-2"]], "at least two rows"),
        ([["s-a-1", "s-a-2"], ["s-b-1"]], "at least two rows"),
        ([["s-a-1", "s-a-2"], ["s-b-1", "s-b-2", "s-b-3"]], "same length"),
        ([["s-a-1", "s-a-2"], ["s-b-1", "s-b-x"]], "unknown arm 's-b-x'"),
    ],
)
def test_bad_2d_grids_are_refused(grid, message):
    check = {"measure": "test_acc", "over_grid": "argmax_spread", "arm": grid, "below": 1.0}
    with pytest.raises(ValueError, match=message):
        parse_claim({**CLAIM, "checks": [check]}, "x")
    # a 1-D summary given rows is refused with a message, not a TypeError
    rows = {"measure": "test_acc", "over_grid": "range", "arm": S_GRID, "below": 1.0}
    with pytest.raises(ValueError, match="arm names"):
        parse_claim({**CLAIM, "checks": [rows]}, "x")
