"""The digits task (scikit-learn's bundled digits): shapes, standardization, split seed."""

import torch

from reglab.bench.tasks import get_task


def test_digits_shapes_standardization_and_split_seed():
    task = get_task("digits")
    split = task.load(task.options({"train_size": 500}), seed=0, cache_dir=None)
    assert split.x_train.shape == (500, 1, 8, 8) and split.x_test.shape == (1297, 1, 8, 8)
    assert abs(float(split.x_train.mean())) < 1e-5 and abs(float(split.x_train.std()) - 1) < 1e-5
    fixed = task.options({"split_seed": 7})
    assert torch.equal(task.load(fixed, 0, None).y_test, task.load(fixed, 1, None).y_test)
    noisy = get_task("noisy-digits")
    assert int(noisy.load(noisy.options(), 0, None).corrupted.sum()) == 400  # 40% of 1000
