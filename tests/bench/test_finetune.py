"""finetune-digits: few-shot, shifted and validation sets, the fine-tune phase, over-seeds checks."""

import statistics

import pytest
import torch

from reglab.bench.claims import evaluate, parse_claim
from reglab.bench.runs import Settings, Status, resolve
from reglab.bench.store import Store
from reglab.bench.tasks import get_task
from reglab.bench.tasks.finetune import source_data
from reglab.bench.train import RunResult, execute, prepare
from reglab.layers.mixout import Mixout

# tiny pretraining and fine-tuning: a run takes well under a second
FAST = Settings(
    data={"pretrain_steps": 5, "pretrain_batch_size": 32},
    model={"arch": "mlp", "width": 16, "depth": 1},
    budget={"steps": 3, "eval_every": 3},
)


def config(recipe="none", seed=0, **data):
    return resolve("finetune-digits", recipe, seed, [FAST, Settings(data=data)])


def test_target_split_is_few_shot_classes_five_to_nine_and_source_is_zero_to_four():
    task = get_task("finetune-digits")
    split = task.load(task.options({"shots": 3}), seed=0, cache_dir=None)
    assert split.x_train.shape == (15, 1, 8, 8) and split.num_classes == 5
    assert torch.bincount(split.y_train, minlength=5).tolist() == [3] * 5
    _, ys, mean, std = source_data()
    assert sorted(ys.unique().tolist()) == [0, 1, 2, 3, 4]
    from sklearn.datasets import load_digits  # the test images are the rest of classes 5-9

    target = load_digits().target
    assert len(split.y_test) == sum(t >= 5 for t in target) - 15
    other = task.load(task.options({"shots": 3}), seed=1, cache_dir=None)
    assert not torch.equal(split.x_train, other.x_train)  # the run seed draws the shots


def test_shifted_test_set_is_the_test_set_moved_and_noised():
    task = get_task("finetune-digits")
    split = task.load(task.options({"shift_noise": 0.0, "shift_pixels": 2}), 0, None)
    assert torch.equal(split.x_shift[..., 2:, 2:], split.x_test[..., :-2, :-2])
    _, _, mean, std = source_data()
    assert torch.allclose(split.x_shift[..., :2, :], torch.tensor(-mean / std))
    noisy = task.load(task.options({"shift_noise": 1.0, "shift_pixels": 0}), 0, None)
    assert 0.9 < float((noisy.x_shift - noisy.x_test).std()) < 1.1


def test_data_file_and_bad_options_are_refused():
    task = get_task("finetune-digits")
    with pytest.raises(ValueError, match="data_file"):
        task.options({"data_file": "x.npz"})
    with pytest.raises(ValueError, match="pretrain_steps"):
        task.options({"pretrain_steps": 0})


def test_pretrained_weights_are_cached_by_settings_and_leave_the_run_streams_alone(tmp_path):
    c = config()
    torch.manual_seed(123)
    _, _, _, cold, _ = prepare(c, tmp_path)
    after_cold = torch.rand(3)
    files = list((tmp_path / "pretrained").glob("*.pt"))
    assert len(files) == 1
    torch.manual_seed(123)
    _, _, _, warm, _ = prepare(c, tmp_path)  # from the cache now
    after_warm = torch.rand(3)
    assert torch.equal(after_cold, after_warm)  # the cache does not shift the global stream
    for a, b in zip(cold.state_dict().values(), warm.state_dict().values()):
        assert torch.equal(a, b)
    prepare(config(pretrain_steps=6), tmp_path)  # other settings: another file
    assert len(list((tmp_path / "pretrained").glob("*.pt"))) == 2


def test_every_arm_and_seed_starts_from_the_pretrained_body_with_a_fresh_head(tmp_path):
    c0, c1 = config(seed=0), config(seed=1)
    task = get_task("finetune-digits")
    _, _, _, m0, _ = prepare(c0, tmp_path)
    _, _, _, m1, _ = prepare(c1, tmp_path)
    state = torch.load(next((tmp_path / "pretrained").glob("*.pt")), weights_only=True)
    assert torch.equal(m0.features[1].weight, state["features.1.weight"])
    assert torch.equal(m1.features[1].weight, state["features.1.weight"])
    assert not torch.equal(m0.classifier.weight, state["classifier.weight"])
    assert not torch.equal(m0.classifier.weight, m1.classifier.weight)  # the seed's init stream
    assert task.options(c0.data).pretraining().steps == 5


def test_surgery_comes_after_loading_so_mixout_and_l2_sp_anchor_at_the_pretrained_weights(
    tmp_path,
):
    _, _, _, model, step = prepare(config("mixout-finetune"), tmp_path)
    state = torch.load(next((tmp_path / "pretrained").glob("*.pt")), weights_only=True)
    layer = model.features[1]
    assert isinstance(layer, Mixout) and torch.equal(layer.target, state["features.1.weight"])
    # the optimizer is built after the surgery: it holds the model's parameters exactly
    held = {id(p) for g in step.optimizer.param_groups for p in g["params"]}
    assert held == {id(p) for p in model.parameters()}
    _, _, _, model, step = prepare(config("l2-sp"), tmp_path)
    assert float(step.penalties[0]().detach()) == 0.0  # anchored at the loaded weights: no penalty at the start


def test_a_finetune_run_reports_the_shifted_accuracy(tmp_path):
    result = execute(config("large-dropout-finetune"), tmp_path)
    assert result.status is Status.DONE, result.message
    assert 0.0 <= result.metrics["shift_acc"] <= 1.0 and 0.0 <= result.metrics["test_acc"] <= 1.0


SPREAD = {
    "id": "spread",
    "paper": "P",
    "statement": "mixout is stabler",
    "task": "digits",
    "model": {"arch": "mlp", "width": 16, "depth": 1},
    "budget": {"steps": 20, "eval_every": 10},
    "seeds": 6,
    "arms": {"mixout": "l2", "plain": "none"},
    "checks": [
        {"measure": "test_acc", "over_seeds": "std", "difference": ["mixout", "plain"], "below": 0},
        {"measure": "test_acc", "over_seeds": "fraction_below(0.3)", "arm": "plain", "above": 0.1},
        {"measure": "test_acc", "over_seeds": "fraction_below(0.3)",
         "difference": ["mixout", "plain"], "below": 0},
    ],
}


def test_over_seeds_checks_judge_the_spread_and_the_share_of_failed_runs(tmp_path):
    claim = parse_claim(SPREAD, "x")
    configs = claim.configs(quick=False)
    stable = [0.90, 0.91, 0.92, 0.90, 0.91, 0.92]
    unstable = [0.95, 0.20, 0.94, 0.15, 0.96, 0.21]
    with Store(tmp_path / "r.db") as store:
        for arm, accs in (("mixout", stable), ("plain", unstable)):
            for c, acc in zip(configs[arm], accs):
                store.write(c, RunResult(Status.DONE, {"test_acc": acc}, [], "", 1.0, 1.0, {}))
        result = evaluate(claim, store, quick=False)
    spread, failures, fewer = result["checks"]
    expected = statistics.stdev(stable) - statistics.stdev(unstable)  # a plain reference
    assert spread["mean"] == pytest.approx(expected) and spread["n"] == 6
    assert spread["low"] <= spread["mean"] <= spread["high"] < 0 and spread["verdict"] == "held"
    assert failures["mean"] == pytest.approx(0.5) and failures["verdict"] == "held"
    assert fewer["mean"] == pytest.approx(-0.5) and fewer["verdict"] == "held"
    assert "std over seeds of test_acc: mixout − plain below 0" == spread["check"]


def test_over_seeds_is_checked_when_parsed():
    bad = {**SPREAD, "checks": [{"measure": "test_acc", "over_seeds": "var", "arm": "plain",
                                 "above": 0}]}
    with pytest.raises(ValueError, match="over_seeds must be std or fraction_below"):
        parse_claim(bad, "x")
    ratio = {**SPREAD, "checks": [{"measure": "test_acc", "over_seeds": "std",
                                   "ratio": ["mixout", "plain"], "below": 1}]}
    with pytest.raises(ValueError, match="one arm or a difference"):
        parse_claim(ratio, "x")


def test_validation_images_are_held_out_of_the_test_set_per_class():
    task = get_task("finetune-digits")
    plain = task.load(task.options({"shots": 3}), seed=0, cache_dir=None)
    assert plain.x_val is None and plain.y_val is None
    split = task.load(task.options({"shots": 3, "val_per_class": 4}), seed=0, cache_dir=None)
    assert torch.bincount(split.y_val, minlength=5).tolist() == [4] * 5
    assert torch.equal(split.x_train, plain.x_train)  # the same shots
    assert len(split.y_test) == len(plain.y_test) - 20 and len(split.y_shift) == len(split.y_test)
    flat = lambda x: {tuple(r.tolist()) for r in x.flatten(1)}  # noqa: E731
    assert flat(split.x_val) <= flat(plain.x_test) and not flat(split.x_val) & flat(split.x_test)
    with pytest.raises(ValueError, match="val_per_class"):
        task.options({"val_per_class": -1})
