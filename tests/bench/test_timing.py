"""Where the time goes: stored step/eval seconds, per-claim sums, the estimate before a sweep."""

import math

import pytest
import yaml
from bench_helpers import tiny

from reglab._cli.main import main
from reglab.bench.runs import Settings, Status
from reglab.bench.store import RunRow
from reglab.bench.timing import (
    Cost,
    claim_costs,
    estimate,
    evaluations,
    rough_run_s,
    timing_rows,
)
from reglab.bench.train import execute


def row(config, wall, train, evals, status=Status.DONE):
    metrics = {"test_acc": 0.5, "train_s": train, "eval_s": evals}
    return RunRow(config.key, config, status, "", metrics, wall, 1.0, {})


def test_a_run_records_its_step_and_evaluation_seconds():
    result = execute(tiny(seed=0))
    assert result.status == "done"
    train, evals = result.metrics["train_s"], result.metrics["eval_s"]
    assert train > 0 and evals > 0
    assert train + evals <= result.wall_s
    assert math.isclose(result.step_ms, 1000 * train / 20)


def test_claim_costs_count_a_shared_run_once_under_the_first_claim():
    a0, a1 = tiny("none", 0), tiny("none", 1)
    b0, b1 = tiny("l2", 0), tiny("l2", 1)
    c0 = tiny("mixup", 0)
    rows = {
        a0.key: row(a0, 10.0, 6.0, 3.0),
        a1.key: row(a1, 12.0, 7.0, 4.0),
        b0.key: row(b0, 5.0, 4.0, 0.5),
        c0.key: row(c0, 1.0, 0.5, float("nan")),  # nan: no timing kept
    }
    claims = [
        ("first", {"base": [a0, a1], "l2": [b0, b1]}),
        ("second", {"base": [a0, a1], "mix": [c0]}),
    ]
    first, second = claim_costs(claims, rows)
    assert first.cost == Cost(3, 27.0, 17.0, 7.5, steps=60, evals=9)  # 20 steps, eval every 10
    assert first.cost.step_ms == pytest.approx(1000 * 17.0 / 60)
    assert first.cost.eval_ms == pytest.approx(1000 * 7.5 / 9)
    assert (first.shared, first.missing) == (0, 1)
    assert first.slowest == "base seed 1: 12.0 s"
    assert second.cost == Cost(1, 1.0, 0.5, 0.0, steps=20, evals=3)
    assert (second.shared, second.missing) == (2, 0)
    assert first.cost.setup_s == pytest.approx(27.0 - 17.0 - 7.5)
    assert first.arms == {
        "base": Cost(2, 22.0, 13.0, 7.0, 40, 6),
        "l2": Cost(1, 5.0, 4.0, 0.5, 20, 3),
    }
    assert second.arms == {"mix": Cost(1, 1.0, 0.5, 0.0, 20, 3)}
    table = timing_rows([first, second])
    assert [r[0] for r in table] == ["first", "  base", "  l2", "second", "total"]
    assert table[-1][:3] == ["total", "4", "28"]


def test_a_run_stored_without_timings_counts_only_its_wall_time():
    config = tiny("none", 0)
    old = RunRow(config.key, config, Status.DONE, "", {"test_acc": 0.5}, 4.0, 1.0, {})
    (cost,) = claim_costs([("c", {"a": [config]})], {config.key: old})
    assert cost.cost == Cost(1, 4.0)
    assert math.isnan(cost.cost.step_ms) and cost.cost.setup_s == 4.0


@pytest.mark.parametrize(
    ("steps", "every", "expected"), [(20, 10, 3), (25, 10, 4), (5, 10, 2), (1, 1, 2)]
)
def test_evaluations_counts_step_zero_each_interval_and_the_end(steps, every, expected):
    config = tiny(settings=[Settings(budget={"steps": steps, "eval_every": every})])
    result = execute(config)
    assert len({s for s, m, _ in result.curves if m == "test_acc"}) == expected
    assert evaluations(steps, every) == expected


def test_estimate_uses_stored_seeds_of_the_same_arm_and_skips_finished_runs():
    s0, s1, s2 = (tiny("none", s) for s in range(3))
    f0 = tiny("l2", 0)
    other = tiny("mixup", 0, settings=[Settings(budget={"steps": 40})])
    stored = [
        row(s0, 8.0, 5.0, 1.0),
        row(s1, 10.0, 5.0, 1.0),
        row(f0, 99.0, 0.0, 0.0, Status.FAILED),  # failed: runs again, no timing to learn from
    ]
    est = estimate([s0, s1, s2, s2, f0, other], stored)
    assert (est.runs, est.todo) == (5, 3)
    expected = 9.0 + rough_run_s(f0) + rough_run_s(other)
    assert est.worker_s == pytest.approx(expected)
    assert est.longest_s == pytest.approx(max(9.0, rough_run_s(f0), rough_run_s(other)))
    assert est.wall_s(2) == pytest.approx(max(expected / 2, est.longest_s))


def test_estimate_runs_stale_runs_again_unless_they_are_reused():
    config = tiny("none", 0)
    stale = RunRow(config.key, config, Status.DONE, "", {}, 3.0, 1.0, {}, "old", stale=True)
    assert estimate([config], [stale]).todo == 1
    assert estimate([config], [stale]).worker_s == 3.0  # its arm's stored time
    assert estimate([config], [stale], reuse_stale=True).todo == 0


def test_rough_cost_grows_with_steps_and_batch():
    short = tiny("none", 0)
    longer = tiny("none", 0, settings=[Settings(budget={"steps": 40})])
    bigger = tiny("none", 0, settings=[Settings(budget={"batch_size": 256})])
    assert rough_run_s(longer) == pytest.approx(2 * rough_run_s(short))
    assert rough_run_s(bigger) > rough_run_s(short)


def test_reproduce_says_the_plan_then_prints_the_timing(tmp_path, capsys):
    claim = {
        "id": "toy",
        "paper": "A Paper",
        "statement": "the model learns digits",
        "task": "digits",
        "model": {"arch": "mlp", "width": 16, "depth": 1},
        "budget": {"steps": 20, "eval_every": 10},
        "seeds": 2,
        "arms": {"plain": "none"},
        "checks": [{"measure": "test_acc", "arm": "plain", "above": 0.0}],
    }
    path = tmp_path / "claims.yaml"
    path.write_text(yaml.safe_dump({"claims": [claim]}))
    args = ["reproduce", "--claims-file", str(path), "--results", str(tmp_path), "--workers", "1"]
    assert main([*args, "--timing"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "Checking 1 claim(s) of 1 paper(s) with 2 training run(s) (2 to do)" in out
    assert "where the time went" in out and "toy" in out and "total" in out
    assert main(args) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "all are in the store already" in out and "where the time went" not in out


def test_the_timing_table_keeps_long_claim_ids_whole_in_80_columns(tmp_path, capsys, monkeypatch):
    claim_id = "a-claim-with-a-long-id-like-the-bundled-ones"
    claim = {
        "id": claim_id, "paper": "A Paper", "statement": "the model learns digits",
        "task": "digits", "model": {"arch": "mlp", "width": 16, "depth": 1},
        "budget": {"steps": 20, "eval_every": 10}, "seeds": 2, "arms": {"plain": "none"},
        "checks": [{"measure": "test_acc", "arm": "plain", "above": 0.0}],
    }
    path = tmp_path / "claims.yaml"
    path.write_text(yaml.safe_dump({"claims": [claim]}))
    monkeypatch.setenv("COLUMNS", "80")
    args = ["reproduce", "--claims-file", str(path), "--results", str(tmp_path), "--workers", "1"]
    assert main([*args, "--timing"]) == 0
    out = capsys.readouterr().out
    table = out[out.index("where the time went"):]
    assert all(len(line) <= 80 for line in table.splitlines())
    assert claim_id in table and "worker s" in " ".join(table.split())
