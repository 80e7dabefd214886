import random

import numpy as np
import pytest
import torch

from reglab._core.registry import UnknownNameError
from reglab.bench.datasets import NoiseMode
from reglab.bench.tasks import TASKS, get_task


def test_modular_addition_labels_split_and_determinism():
    task = get_task("modular-addition")
    opts = task.options({"p": 13, "train_fraction": 0.3})
    a, b = task.load(opts, seed=1, cache_dir=None), task.load(opts, seed=1, cache_dir=None)
    assert torch.equal(a.x_train, b.x_train)
    x = torch.cat([a.x_train, a.x_test])
    assert len(x) == 169 and len(a.y_train) == round(0.3 * 169)
    assert len({tuple(r) for r in x.tolist()}) == 169  # every pair exactly once
    assert torch.equal(a.y_test, (a.x_test[:, 0] + a.x_test[:, 1]) % 13)
    other = task.load(opts, seed=2, cache_dir=None)
    assert not torch.equal(other.x_train, a.x_train)


@pytest.mark.parametrize("mode", list(NoiseMode))
def test_label_noise_is_exact_and_leaves_test_labels_clean(mode):
    task = get_task("modular-addition")
    clean = task.load(task.options({"p": 11}), seed=0, cache_dir=None)
    noisy = task.load(
        task.options({"p": 11, "label_noise": 0.5, "noise_mode": mode}), seed=0, cache_dir=None
    )
    assert torch.equal(noisy.y_test, clean.y_test) and torch.equal(noisy.clean_train, clean.y_train)
    n = len(clean.y_train)
    if mode is NoiseMode.FLIP:  # exactly round(0.5 n) labels changed, each to another class
        assert int(noisy.corrupted.sum()) == round(0.5 * n)
    else:  # uniform redraw: about (K-1)/K of the chosen labels change
        assert 0 < int(noisy.corrupted.sum()) <= round(0.5 * n)


def test_digits_shapes_standardization_and_split_seed():
    task = get_task("digits")
    split = task.load(task.options({"train_size": 500}), seed=0, cache_dir=None)
    assert split.x_train.shape == (500, 1, 8, 8) and split.x_test.shape == (1297, 1, 8, 8)
    assert abs(float(split.x_train.mean())) < 1e-5 and abs(float(split.x_train.std()) - 1) < 1e-5
    fixed = task.options({"split_seed": 7})
    assert torch.equal(task.load(fixed, 0, None).y_test, task.load(fixed, 1, None).y_test)
    noisy = get_task("noisy-digits")
    assert int(noisy.load(noisy.options(), 0, None).corrupted.sum()) == 400  # 40% of 1000


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


def test_unknown_task_and_option_name_the_nearest():
    with pytest.raises(UnknownNameError, match="did you mean 'mnist1d'"):
        get_task("mnist-1d")
    with pytest.raises(
        ValueError, match="unknown key 'train_frac' \\(did you mean 'train_fraction'"
    ):
        get_task("modular-addition").options({"train_frac": 0.5})
    with pytest.raises(ValueError, match="label_noise must be in \\[0, 1\\]"):
        get_task("digits").options({"label_noise": 1.5})


def test_every_task_states_its_defaults():
    for task in TASKS.values():
        assert task.summary and task.budget.steps > 0 and task.model.arch in task.archs
        task.options()  # the defaults are valid


def test_noisy_variants_are_the_same_task_with_the_noise_option():
    plain, noisy = get_task("digits"), get_task("noisy-digits")
    assert type(noisy) is type(plain) and type(noisy).Options is type(plain).Options
    assert noisy.options().label_noise == 0.4 and plain.options().label_noise == 0.0
    same = noisy.load(noisy.options({"label_noise": 0.2}), 0, None)
    ref = plain.load(plain.options({"label_noise": 0.2}), 0, None)
    assert torch.equal(same.y_train, ref.y_train) and torch.equal(same.x_test, ref.x_test)
    m1 = get_task("noisy-mnist1d")
    assert type(m1) is type(get_task("mnist1d")) and m1.options().label_noise == 0.4


def test_a_task_registered_with_bad_defaults_is_refused():
    with pytest.raises(ValueError, match="label_noise must be in"):
        type(get_task("digits"))("bad", "bad defaults", label_noise=2.0)


def test_loading_mnist1d_leaves_numpys_and_pythons_global_generators_alone(tmp_path):
    np.random.seed(123)
    random.seed(123)
    task = get_task("mnist1d")
    task.load(task.options({"num_samples": 100}), seed=0, cache_dir=tmp_path)  # generates
    after = np.random.random(), random.random()
    np.random.seed(123)
    random.seed(123)
    assert after == (np.random.random(), random.random())
