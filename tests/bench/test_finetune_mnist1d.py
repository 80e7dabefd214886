"""finetune-mnist1d: few-shot target classes, a shifted generator, global RNGs left alone."""

import random

import numpy as np
import pytest
import torch

from reglab.bench.run_weights import load_weights
from reglab.bench.runs import Settings, Status, resolve
from reglab.bench.tasks import get_task
from reglab.bench.tasks.finetune_mnist1d import signals, source_data
from reglab.bench.train import execute, prepare

SMALL = {"num_samples": 200}


def test_split_is_few_shot_classes_five_to_nine_with_validation_and_a_shifted_generator():
    task = get_task("finetune-mnist1d")
    options = task.options({**SMALL, "shots": 3, "val_per_class": 2})
    split = task.load(options, seed=0, cache_dir=None)
    assert torch.bincount(split.y_train, minlength=5).tolist() == [3] * 5
    assert torch.bincount(split.y_val, minlength=5).tolist() == [2] * 5
    assert len(split.y_test) == 100 - 25 and split.x_train.shape[1:] == (40,)
    x, y = signals(200, 42, None)
    target = {tuple(r.tolist()) for r in x[y >= 5]}
    rows = lambda t: {tuple(r.tolist()) for r in t}  # noqa: E731
    assert rows(split.x_train) | rows(split.x_val) | rows(split.x_test) == target
    assert not rows(split.x_val) & rows(split.x_test)
    xs, ys = signals(200, 43, None, **options.shift_settings())
    assert torch.equal(split.x_shift, xs[ys >= 5]) and torch.equal(split.y_shift, ys[ys >= 5] - 5)
    assert not torch.equal(xs, signals(200, 43, None)[0])  # the distortions reach the generator
    sx, sy = source_data(options, None)
    assert sorted(sy.unique().tolist()) == [0, 1, 2, 3, 4] and len(sy) == 100


def test_the_generator_leaves_numpy_and_python_global_generators_as_they_were(tmp_path):
    np.random.seed(7)
    random.seed(7)
    expected = np.random.rand(), random.random()
    np.random.seed(7)
    random.seed(7)
    get_task("finetune-mnist1d").load(get_task("finetune-mnist1d").options(SMALL), 0, tmp_path)
    assert (np.random.rand(), random.random()) == expected
    with pytest.raises(ValueError, match="no argument 'shear'"):
        signals(200, 42, None, shear=1.0)


def test_a_run_fine_tunes_from_the_cached_pretrained_body_and_keeps_its_weights(tmp_path):
    fast = Settings(
        data={**SMALL, "pretrain_steps": 5, "pretrain_batch_size": 32},
        model={"arch": "mlp", "width": 16, "depth": 1},
        budget={"steps": 3, "eval_every": 3},
    )
    a, b = (resolve("finetune-mnist1d", "none", s, [fast]) for s in (0, 1))
    body = [prepare(c, tmp_path)[3].features[1].weight.detach() for c in (a, b)]
    assert torch.equal(body[0], body[1])  # every seed starts from the same pretrained body
    assert len(list((tmp_path / "pretrained").glob("*.pt"))) == 1
    result = execute(a, tmp_path)
    assert result.status is Status.DONE, result.message
    assert 0.0 <= result.metrics["shift_acc"] <= 1.0
    assert load_weights(tmp_path, a.key) is not None
