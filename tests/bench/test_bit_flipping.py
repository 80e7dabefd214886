"""bit-flipping (slowly-changing regression): the stream, the target, online runs."""

from __future__ import annotations

import pytest
import torch

from reglab.bench.recipes import load_recipe, parse_recipe
from reglab.bench.runs import Settings, Status, resolve
from reglab.bench.tasks import get_task
from reglab.bench.tasks.bit_flipping import BitFlippingOptions, error_summary, stream
from reglab.bench.train import execute


def _run(task, recipe, data, budget, seed=0):
    config = resolve(task, recipe, seed=seed, settings=[Settings(data=data, budget=budget)])
    return execute(config)


def test_bit_flipping_stream_flips_one_slow_bit_every_f_examples():
    opts = BitFlippingOptions(flip_every=5, target_hidden=7)
    x, y = stream(opts, 23, torch.Generator().manual_seed(0))
    assert x.shape == (23, 20) and y.shape == (23, 1)
    slow = x[:, :15]
    for t in range(1, 23):
        changed = int((slow[t] != slow[t - 1]).sum())
        assert changed == (1 if t % 5 == 0 else 0)
    assert set(x.unique().tolist()) <= {0.0, 1.0}


def test_bit_flipping_target_is_the_threshold_network():
    opts = BitFlippingOptions(flip_every=3, target_hidden=4, beta=0.7)
    g = torch.Generator().manual_seed(3)
    x, y = stream(opts, 9, g)
    g = torch.Generator().manual_seed(3)  # the same draws, read in the same order
    w = torch.randint(0, 2, (4, 21), generator=g).double() * 2 - 1
    v = torch.randint(0, 2, (4,), generator=g).double() * 2 - 1
    for i in range(9):  # plain loop reference
        xt = x[i].tolist() + [1.0]
        out = 0.0
        for j in range(4):
            theta = 21 * 0.7 - sum(1 for a in w[j].tolist() if a < 0)
            out += v[j].item() * (1.0 if sum(a * b for a, b in zip(w[j].tolist(), xt)) > theta else 0.0)
        assert y[i, 0].item() == pytest.approx(out)


def test_error_summary_quarters():
    out = error_summary([9.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0])
    assert out == {"window_error": 8.0, "early_error": 1.5, "late_error": 7.0, "error_growth": 5.5}


def test_bit_flipping_run_is_online_and_takes_continual_backprop():
    budget = {"steps": 40, "eval_every": 10}
    data = {"flip_every": 10}
    plain = _run("bit-flipping", load_recipe("none"), data, budget)
    assert plain.status is Status.DONE, plain.message
    assert [s for s, k, _ in plain.curves if k == "window_error"] == [10, 20, 30, 40]
    cbp = _run("bit-flipping", parse_recipe(
        {"methods": [{"continual-backprop": {"replacement_rate": 0.5, "maturity": 1}}]}, "cbp"), data, budget)
    assert cbp.status is Status.DONE, cbp.message
    assert cbp.metrics["window_error"] != plain.metrics["window_error"]
    bad = _run("bit-flipping", load_recipe("none"), data, {**budget, "batch_size": 4})
    assert bad.status is Status.FAILED and "batch_size must be 1" in bad.message


def test_a_sweep_checks_bit_flipping_configs_before_running_them():
    from reglab.bench.sweep import check_configs

    budget = {"steps": 40, "eval_every": 10}
    good = resolve("bit-flipping", load_recipe("none"), seed=0, settings=[Settings(budget=budget)])
    check_configs([good], None)  # builds model and step; a task without a data split is fine
    bad = resolve("bit-flipping", load_recipe("none"), seed=0,
                  settings=[Settings(budget={**budget, "batch_size": 4})])
    with pytest.raises(ValueError, match="batch_size must be 1"):
        check_configs([bad], None)


@pytest.mark.parametrize("optimizer", [{"name": "sgd", "lr": 0.05, "momentum": 0.9},
                                       {"name": "adam", "lr": 0.01, "weight_decay": 1e-3}])
def test_seeds_trained_as_one_vectorized_run_equal_the_runs_one_by_one(optimizer):
    settings = Settings(data={"flip_every": 10}, model={"dtype": "float64", "width": 6, "depth": 2},
                        optimizer=optimizer, budget={"steps": 40, "eval_every": 20})
    configs = [resolve("bit-flipping", load_recipe("none"), seed=s, settings=[settings]) for s in (0, 3)]
    together = get_task("bit-flipping").train_seeds(configs)
    for config, batched in zip(configs, together):
        alone = execute(config)
        assert alone.status is batched.status is Status.DONE
        assert [(s, k) for s, k, _ in batched.curves] == [(s, k) for s, k, _ in alone.curves]
        assert [v for *_, v in batched.curves] == pytest.approx([v for *_, v in alone.curves], rel=1e-10)
        for key in ("window_error", "early_error", "late_error", "dead_fraction_last", "effective_rank_last"):
            assert batched.metrics[key] == pytest.approx(alone.metrics[key], rel=1e-10, abs=1e-12), key
    assert together[0].metrics["window_error"] != together[1].metrics["window_error"]


def test_train_seeds_refuses_methods_and_configs_that_differ_beyond_the_seed():
    task = get_task("bit-flipping")
    budget = Settings(budget={"steps": 20, "eval_every": 10})
    cbp = parse_recipe({"methods": [{"continual-backprop": {"replacement_rate": 0.5, "maturity": 1}}]}, "cbp")
    with pytest.raises(ValueError, match="plain recipe only"):
        task.train_seeds([resolve("bit-flipping", cbp, seed=0, settings=[budget])])
    a = resolve("bit-flipping", load_recipe("none"), seed=0, settings=[budget])
    b = resolve("bit-flipping", load_recipe("none"), seed=1,
                settings=[budget, Settings(optimizer={"lr": 0.5})])
    with pytest.raises(ValueError, match="differ only by their seed"):
        task.train_seeds([a, b])
    with pytest.raises(ValueError, match="dropout or batch norm"):
        task.train_seeds([resolve("bit-flipping", load_recipe("none"), seed=0,
                                  settings=[budget, Settings(model={"dropout": 0.5})])])
