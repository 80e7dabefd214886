"""The arrays behind the tasks: generated, bundled or read from a user's file, then label noise.

Everything is seeded by arguments (a ``torch.Generator`` or a seed); nothing is downloaded.
``Split`` holds one train/test split with the clean training labels kept beside the (possibly
noisy) ones, so memorization of wrong labels can be measured.

>>> split = modular_addition(p=5, train_fraction=0.4, seed=0)
>>> split.x_train.shape, split.num_classes, split.vocab
(torch.Size([10, 2]), 5, 5)
>>> bool(((split.x_train.sum(1) % 5) == split.y_train).all())
True
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path

import numpy as np
import torch


class NoiseMode(StrEnum):
    """How a corrupted label is drawn: ``flip`` to a different class (the fraction of wrong labels
    is exactly the rate), ``uniform`` from all classes (Zhang et al.'s random labels)."""

    FLIP = "flip"
    UNIFORM = "uniform"


@dataclass(frozen=True)
class Split:
    """x_train (N, ...), y_train (N,) as trained on, clean_train (N,) true labels, x_test, y_test."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    clean_train: torch.Tensor
    num_classes: int
    vocab: int | None = None  # integer inputs: the number of token ids
    x_shift: torch.Tensor | None = None  # a shifted test set (fine-tuning tasks), clean labels
    y_shift: torch.Tensor | None = None
    x_val: torch.Tensor | None = None  # a held-out validation set (fine-tuning tasks: soups)
    y_val: torch.Tensor | None = None

    @property
    def corrupted(self) -> torch.Tensor:
        """Boolean mask of the training examples whose label differs from the true one."""
        return self.y_train != self.clean_train


def corrupt_labels(split: Split, rate: float, mode: NoiseMode, generator: torch.Generator) -> Split:
    """Replace the labels of round(rate·N) training examples chosen at random; test labels stay clean."""
    n, k = len(split.y_train), split.num_classes
    count = round(rate * n)
    if count == 0:
        return split
    chosen = torch.randperm(n, generator=generator)[:count]
    y = split.clean_train.clone()
    if mode is NoiseMode.FLIP:
        y[chosen] = (y[chosen] + torch.randint(1, k, (count,), generator=generator)) % k
    else:
        y[chosen] = torch.randint(0, k, (count,), generator=generator)
    return replace(split, y_train=y)


def random_split(
    x: torch.Tensor,
    y: torch.Tensor,
    train: int,
    seed: int,
    num_classes: int,
    vocab: int | None = None,
) -> Split:
    """The first ``train`` examples of a seeded permutation for training, the rest for testing."""
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    tr, te = order[:train], order[train:]
    return Split(x[tr], y[tr], x[te], y[te], y[tr], num_classes, vocab)


def modular_addition(p: int, train_fraction: float, seed: int) -> Split:
    """All pairs (a, b) in [0, p)² as integer inputs, label (a + b) mod p, a random train subset."""
    a, b = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    x = torch.stack([a.flatten(), b.flatten()], dim=1)
    y = (x[:, 0] + x[:, 1]) % p
    train = round(train_fraction * len(y))
    if not 0 < train < len(y):
        raise ValueError(
            f"train_fraction {train_fraction} leaves an empty train or test set for p={p}"
        )
    return random_split(x, y, train, seed, num_classes=p, vocab=p)


def digits(train_size: int, seed: int, standardize: bool = True) -> Split:
    """scikit-learn's bundled 8×8 digits (1797 images) as (N, 1, 8, 8) floats, pixel/16 in
    [0, 1], then (with ``standardize``) shifted and scaled by the training images' scalar mean
    and standard deviation, so that 0 is the mean pixel (the fill value of Cutout)."""
    from sklearn.datasets import load_digits

    data = load_digits()
    x = torch.tensor(data.data, dtype=torch.float32).view(-1, 1, 8, 8) / 16.0
    y = torch.tensor(data.target, dtype=torch.long)
    if not 0 < train_size < len(y):
        raise ValueError(f"train_size must be in [1, {len(y) - 1}], got {train_size}")
    split = random_split(x, y, train_size, seed, num_classes=10)
    if not standardize:
        return split
    mean, std = split.x_train.mean(), split.x_train.std()
    return replace(split, x_train=(split.x_train - mean) / std, x_test=(split.x_test - mean) / std)


def mnist1d(
    num_samples: int, train_split: float, dataset_seed: int, cache_dir: Path | None
) -> Split:
    """mnist1d made by its generator (never its download), cached as .npz in ``cache_dir``."""
    name = f"mnist1d-{num_samples}-{train_split:g}-{dataset_seed}.npz"
    path = cache_dir / name if cache_dir is not None else None
    if path is not None and path.exists():
        arrays = dict(np.load(path, allow_pickle=False))
    else:
        arrays = _generate_mnist1d(num_samples, train_split, dataset_seed)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
            np.savez(tmp, **arrays)
            os.replace(tmp, path)  # atomic: concurrent workers never read a half-written file
    x = torch.tensor(arrays["x"], dtype=torch.float32)
    y = torch.tensor(arrays["y"], dtype=torch.long)
    x_test = torch.tensor(arrays["x_test"], dtype=torch.float32)
    y_test = torch.tensor(arrays["y_test"], dtype=torch.long)
    return Split(x, y, x_test, y_test, y, num_classes=10)


def _generate_mnist1d(
    num_samples: int, train_split: float, seed: int, **settings: float
) -> dict[str, np.ndarray]:
    """The generator's arrays; ``settings`` override its other arguments (e.g. shear_scale)."""
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples, args.train_split, args.seed = num_samples, train_split, seed
    for name, value in settings.items():
        if not hasattr(args, name):
            raise ValueError(f"the mnist1d generator has no argument {name!r}")
        setattr(args, name, value)
    np_state, py_state = np.random.get_state(), random.getstate()
    try:  # the generator seeds NumPy's and Python's global generators: put them back
        data = make_dataset(args)
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    return {k: np.asarray(data[k]) for k in ("x", "y", "x_test", "y_test")}
