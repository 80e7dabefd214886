"""The mnist1d task: from the generator, cached, and the global generators left alone."""

import random

import numpy as np
import torch

from reglab.bench.tasks import get_task


def test_mnist1d_comes_from_the_generator_and_is_cached(tmp_path):
    task = get_task("mnist1d")
    opts = task.options({"num_samples": 200})
    first = task.load(opts, seed=0, cache_dir=tmp_path)
    assert first.x_train.shape == (160, 40) and first.x_test.shape == (40, 40)
    assert len(list(tmp_path.glob("mnist1d-200-*.npz"))) == 1
    again = task.load(
        opts, seed=3, cache_dir=tmp_path
    )  # the dataset seed, not the run seed, fixes it
    assert torch.equal(first.x_train, again.x_train)


def test_loading_mnist1d_leaves_numpys_and_pythons_global_generators_alone(tmp_path):
    np.random.seed(123)
    random.seed(123)
    task = get_task("mnist1d")
    task.load(task.options({"num_samples": 100}), seed=0, cache_dir=tmp_path)  # generates
    after = np.random.random(), random.random()
    np.random.seed(123)
    random.seed(123)
    assert after == (np.random.random(), random.random())
