import pytest
import torch
from bench_helpers import tiny

from reglab.bench.recipes import parse_recipe
from reglab.bench.runs import Settings, Status
from reglab.bench.train import execute, prepare


def test_a_run_is_deterministic_and_records_curves():
    config = tiny(settings=[Settings(budget={"steps": 60, "eval_every": 20})])
    first, second = execute(config), execute(config)

    def numbers(result):  # the seconds spent (train_s, eval_s) are measured, not reproducible
        return {k: v for k, v in result.metrics.items() if not k.endswith("_s")}

    assert (
        first.status is Status.DONE
        and numbers(first) == numbers(second)
        and first.curves == second.curves
    )
    steps = sorted({s for s, m, _ in first.curves if m == "test_acc"})
    assert steps == [0, 20, 40, 60]
    assert {m for s, m, _ in first.curves if s == 20} >= {
        "train_loss",
        "test_acc",
        "test_ece",
        "step_loss",
    }
    losses = [v for s, m, v in first.curves if m == "train_loss"]
    assert losses[-1] < losses[0]  # it trains
    assert first.step_ms > 0 and first.versions["torch"]


def test_tasks_with_tokens_and_signals_run():
    mod = execute(
        tiny(task="modular-addition", settings=[Settings(data={"p": 11}, model={"width": 8})])
    )
    sig = execute(tiny(task="noisy-mnist1d", settings=[Settings(data={"num_samples": 100})]))
    tf = execute(
        tiny(
            task="modular-addition",
            settings=[Settings(data={"p": 11}, model={"arch": "transformer", "width": 8})],
        )
    )
    assert mod.status is Status.DONE and sig.status is Status.DONE, (mod.message, sig.message)
    assert tf.status is Status.DONE, tf.message
    assert {"memorized", "clean_train_acc", "noisy_true_acc"} <= set(sig.metrics)


def test_nan_loss_ends_the_run_as_diverged(stand_ins):
    recipe = parse_recipe({"methods": [{"test-nan-after": {"after": 4}}]}, "nan")
    result = execute(tiny(recipe))
    assert result.status is Status.DIVERGED and "at step 5" in result.message
    assert result.metrics["diverged_step"] == 5


def test_an_exception_ends_the_run_as_failed_with_its_message(stand_ins):
    recipe = parse_recipe({"methods": [{"test-raise-after": {"after": 2}}]}, "boom")
    result = execute(tiny(recipe))
    assert result.status is Status.FAILED and "RuntimeError: stand-in failure" in result.message


def test_ctrl_c_propagates(stand_ins):
    recipe = parse_recipe(
        {"methods": [{"test-raise-after": {"after": 2, "error": "interrupt"}}]}, "stop"
    )
    with pytest.raises(KeyboardInterrupt):
        execute(tiny(recipe))


def _transforms(recipe, width, seed=0):
    config = tiny(recipe, seed=seed, settings=[Settings(model={"width": width})])
    return prepare(config, None)[4].transforms


def test_a_methods_draws_do_not_depend_on_the_model_and_each_method_has_its_own_stream():
    recipe = parse_recipe({"methods": [{"mixup": {"alpha": 1.0}}, {"cutmix": {"alpha": 1.0}}]}, "r")
    narrow, wide = _transforms(recipe, width=8), _transforms(recipe, width=64)
    x, y = torch.randn(32, 1, 8, 8), torch.arange(32) % 10
    for a, b in zip(narrow, wide):  # the wider model's init draws more numbers: no effect
        xa, ya = a(x, y)
        xb, yb = b(x, y)
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    mix, cut = narrow
    assert mix.generator.initial_seed() != cut.generator.initial_seed()
    other_seed = _transforms(recipe, width=8, seed=1)[0]
    assert mix.generator.initial_seed() != other_seed.generator.initial_seed()
