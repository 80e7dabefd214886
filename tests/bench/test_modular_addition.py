"""The modular-addition task: every pair once, deterministic splits, exact label noise."""

import pytest
import torch

from reglab.bench.datasets import NoiseMode
from reglab.bench.tasks import get_task


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
