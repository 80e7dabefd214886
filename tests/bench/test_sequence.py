"""Task sequences in the harness: one network through all tasks, end_task at boundaries."""

from __future__ import annotations

from reglab.bench.recipes import load_recipe, parse_recipe
from reglab.bench.runs import Settings, Status, resolve
from reglab.bench.train import execute


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
