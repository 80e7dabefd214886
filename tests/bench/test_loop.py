"""Loop: the training-loop skeleton of the harness (cadence, divergence check, records)."""

from __future__ import annotations

import math

import pytest
import torch

from reglab.bench.loop import Loop, Status, set_lr


def test_evaluates_every_eval_every_steps_and_at_the_last_step():
    seen, evaluated = [], []
    loop = Loop(steps=7, eval_every=3)
    assert loop.run(lambda t: seen.append(t) or float(t), lambda: evaluated.append(loop.t) or {"acc": 0.5})
    assert seen == [1, 2, 3, 4, 5, 6, 7] and evaluated == [3, 6, 7]
    # step_loss: the mean loss of the steps since the previous record (1..3, 4..6, 7)
    assert loop.curves == [(3, "acc", 0.5), (3, "step_loss", 2.0), (6, "acc", 0.5),
                           (6, "step_loss", 5.0), (7, "acc", 0.5), (7, "step_loss", 7.0)]
    assert loop.metrics == {"acc": 0.5, "step_loss": 7.0}
    result = loop.result({"final": 1.0})
    assert result.status is Status.DONE and result.message == ""
    assert list(result.metrics) == ["acc", "step_loss", "final", "train_s", "eval_s"]


@pytest.mark.parametrize("bad, word", [(math.nan, "nan"), (math.inf, "inf"), (-math.inf, "-inf")])
def test_a_non_finite_loss_ends_the_run_at_its_step(bad, word):
    seen = []
    losses = {1: 1.0, 2: 3.0, 3: bad}
    loop = Loop(steps=10, eval_every=3)
    loop.record(0, {"acc": 0.1})
    assert not loop.run(lambda t: seen.append(t) or losses[t], lambda: {"acc": 0.9})
    assert seen == [1, 2, 3]  # no step after the one that diverged
    assert loop.status is Status.DIVERGED and loop.message == f"loss became {word} at step 3"
    assert loop.curves == [(0, "acc", 0.1)]  # step 3 is an evaluation step: not evaluated
    assert loop.metrics == {"acc": 0.1, "diverged_step": 3.0}
    result = loop.result()
    assert (result.status, result.message) == (Status.DIVERGED, f"loss became {word} at step 3")
    assert list(result.metrics) == ["acc", "diverged_step", "train_s", "eval_s"]


def test_a_finite_loss_just_before_the_check_is_kept():
    loop = Loop(steps=4, eval_every=2)
    assert not loop.run(lambda t: [1.0, 2.0, 1e308, math.nan][t - 1], None)
    assert loop.curves == [(2, "step_loss", 1.5)] and loop.message == "loss became nan at step 4"
    assert loop.t == 4


def test_segments_end_with_a_record_and_name_themselves_in_the_message():
    loop = Loop(steps=8, eval_every=3)  # two tasks of four steps, as a task sequence runs them
    assert loop.run(float, dict, first=1, last=4, where=" (task 1)")
    assert [t for t, _, _ in loop.curves] == [3, 4]
    assert not loop.run(lambda t: math.nan if t == 7 else 1.0, dict, first=5, last=8,
                        where=" (task 2)")
    assert [t for t, _, _ in loop.curves] == [3, 4, 6]
    assert loop.message == "loss became nan at step 7 (task 2)"
    assert loop.metrics == {"step_loss": 1.0, "diverged_step": 7.0}


def test_add_names_the_loss_and_the_unit_and_needs_no_evaluation():
    loop = Loop(steps=5, eval_every=2, loss_name="window_error", unit="example")
    assert [loop.add(t, e) for t, e in enumerate([4.0, 2.0, 1.0, 3.0], 1)] == [True] * 4
    assert not loop.add(5, math.inf)
    assert loop.curves == [(2, "window_error", 3.0), (4, "window_error", 2.0)]
    assert loop.message == "loss became inf at example 5" and loop.eval_s == 0.0


@pytest.mark.parametrize("name", ["steps", "eval_every"])
def test_refuses_a_budget_below_one_naming_it(name):
    with pytest.raises(ValueError, match=f"{name} must be >= 1, got 0"):
        Loop(**{"steps": 3, "eval_every": 1, name: 0})


def test_set_lr_sets_every_group():
    a, b = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([{"params": [a], "lr": 0.1}, {"params": [b], "lr": 0.2}])
    set_lr(opt, 0.05)
    assert [g["lr"] for g in opt.param_groups] == [0.05, 0.05]
