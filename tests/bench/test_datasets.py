"""Task arrays: splits, label noise and standardization against direct computations."""

import torch

from reglab.bench.datasets import NoiseMode, corrupt_labels, digits, modular_addition


def test_modular_addition_covers_every_pair_once_with_correct_labels():
    split = modular_addition(p=7, train_fraction=0.4, seed=3)
    x = torch.cat([split.x_train, split.x_test])
    y = torch.cat([split.y_train, split.y_test])
    assert len(split.y_train) == round(0.4 * 49)
    assert sorted(map(tuple, x.tolist())) == [(a, b) for a in range(7) for b in range(7)]
    assert torch.equal(y, (x[:, 0] + x[:, 1]) % 7)


def test_flip_noise_changes_exactly_the_rate_and_keeps_clean_labels():
    split = modular_addition(p=11, train_fraction=0.5, seed=0)
    noisy = corrupt_labels(split, 0.3, NoiseMode.FLIP, torch.Generator().manual_seed(1))
    n = len(split.y_train)
    assert int(noisy.corrupted.sum()) == round(0.3 * n)
    assert torch.equal(noisy.clean_train, split.y_train)
    assert torch.equal(noisy.y_test, split.y_test)
    assert ((noisy.y_train >= 0) & (noisy.y_train < 11)).all()


def test_uniform_noise_can_keep_the_true_label():
    """Uniform redraws hit the true class with probability 1/K (Zhang et al.'s random labels)."""
    split = modular_addition(p=5, train_fraction=0.8, seed=0)
    g = torch.Generator().manual_seed(0)
    kept = [int((~corrupt_labels(split, 1.0, NoiseMode.UNIFORM, g).corrupted).sum()) for _ in range(40)]
    rate = sum(kept) / (40 * len(split.y_train))
    assert abs(rate - 1 / 5) < 0.03


def test_digits_are_standardized_by_the_training_images():
    split = digits(train_size=300, seed=0)
    assert split.x_train.shape == (300, 1, 8, 8) and len(split.y_test) == 1797 - 300
    assert abs(float(split.x_train.mean())) < 1e-5
    assert abs(float(split.x_train.std()) - 1) < 1e-5
    raw = digits(train_size=300, seed=0, standardize=False)
    assert float(raw.x_train.min()) >= 0 and float(raw.x_train.max()) <= 1
