"""permuted-digits and permuted-mnist1d: permutations, task splits, the end-of-sequence summary,
and the task-sequence loop (one network through all tasks, end_task at the boundaries)."""

from __future__ import annotations

import pytest
import torch

from reglab.bench.measures import Measure
from reglab.bench.recipes import load_recipe, parse_recipe
from reglab.bench.runs import Settings, Status, resolve
from reglab.bench.tasks import get_task
from reglab.bench.tasks.permuted import permutations, permute, summarize
from reglab.bench.train import execute


def test_permute_reorders_flattened_features_in_place_of_shape():
    x = torch.arange(2 * 1 * 2 * 2.0).reshape(2, 1, 2, 2)
    perm = torch.tensor([3, 0, 2, 1])
    out = permute(x, perm)
    assert out.shape == x.shape
    for i in range(2):  # plain loop reference
        flat = x[i].flatten()
        assert torch.equal(out[i].flatten(), torch.stack([flat[j] for j in perm.tolist()]))


def test_permutations_depend_on_seed_only():
    a, b = permutations(64, 3, seed=1), permutations(64, 3, seed=1)
    assert all(torch.equal(p, q) for p, q in zip(a, b))
    assert not torch.equal(a[0], permutations(64, 3, seed=2)[0])
    assert not torch.equal(a[0], a[1])
    assert all(torch.equal(p.sort().values, torch.arange(64)) for p in a)


def test_summarize_means_of_first_and_last_tasks():
    ends = [{"task_acc": a, "dead_fraction": d, "effective_rank": r}
            for a, d, r in [(0.9, 0.0, 10.0), (0.8, 0.1, 9.0), (0.5, 0.2, 8.0), (0.3, 0.4, 5.0)]]
    out = summarize(ends, 2)
    assert out["first_tasks_acc"] == pytest.approx(0.85)
    assert out["last_tasks_acc"] == pytest.approx(0.4)
    assert out["task_acc_drop"] == pytest.approx(0.45)
    assert out["dead_fraction_growth"] == pytest.approx(0.3 - 0.05)
    assert out["effective_rank_drop"] == pytest.approx(9.5 - 6.5)


def test_new_measures_and_recipes_are_known():
    assert Measure.parse("last_tasks_acc").range == (0.0, 1.0)
    assert Measure.parse("max(task_acc)").needs_curve
    assert Measure.parse("error_growth").kind == "final"
    for name in ("continual-backprop", "shrink-perturb", "shrink-perturb-task", "spectral"):
        assert load_recipe(name).methods
    assert get_task("permuted-mnist1d").options().num_tasks == 10


def _run(task, recipe, data, budget, seed=0):
    config = resolve(task, recipe, seed=seed, settings=[Settings(data=data, budget=budget)])
    return execute(config)


def test_sequence_run_records_each_task_and_calls_end_task():
    # shrink to zero at each task's end: every task after the first starts from an all-zero
    # network, which predicts one class, so the task-1 curve point differs from a plain run's
    zero = parse_recipe({"methods": [{"shrink-perturb": {"shrink": 0.0, "noise": 0.0, "every": "task"}}]}, "zero")
    data = {"num_tasks": 3, "summary_tasks": 1, "train_size": 200}
    budget = {"steps": 6, "batch_size": 16, "eval_every": 2}
    plain = _run("permuted-digits", load_recipe("none"), data, budget)
    assert plain.status is Status.DONE, plain.message
    assert [s for s, k, _ in plain.curves if k == "task_acc"] == [1, 2, 3]
    assert {"first_tasks_acc", "last_tasks_acc", "dead_fraction_last", "effective_rank_last"} <= set(plain.metrics)
    reset = _run("permuted-digits", zero, data, budget)
    assert reset.status is Status.DONE, reset.message
    acc = {s: v for s, k, v in reset.curves if k == "task_acc"}
    base = {s: v for s, k, v in plain.curves if k == "task_acc"}
    assert acc[1] == base[1]  # the same first task (end_task not yet called)
    # after end_task the hidden units of the zeroed network are dead on every probe input
    dead = {s: v for s, k, v in reset.curves if k == "dead_fraction"}
    assert dead[1] < 1.0 and dead[2] == 1.0 and dead[3] == 1.0


def test_sequence_steps_must_divide_into_tasks():
    result = _run("permuted-digits", load_recipe("none"), {"num_tasks": 4}, {"steps": 6})
    assert result.status is Status.FAILED
    assert "multiple of num_tasks" in result.message
