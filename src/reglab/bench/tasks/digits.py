"""digits and noisy-digits: scikit-learn's bundled 8×8 digits as (N, 1, 8, 8); small CNN.

``noisy-digits`` is the same task with ``label_noise: 0.4`` by default (40% of the training
labels flipped to another class; test labels stay clean).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reglab._core.validation import check_int
from reglab.bench import datasets
from reglab.bench.datasets import Split
from reglab.bench.models import Arch, ModelSpec
from reglab.bench.optimizers import OptimizerName, OptimizerSpec
from reglab.bench.tasks.base import Budget, DataOptions, Task


@dataclass(frozen=True)
class DigitsOptions(DataOptions):
    """train_size images for training (the rest for testing); standardize; split_seed."""

    train_size: int = 1000
    standardize: bool = True  # by the training pixels' scalar mean and std
    split_seed: int | None = None  # None: the run seed chooses the split

    def __post_init__(self) -> None:
        super().__post_init__()
        check_int("train_size", self.train_size, low=1)
        if self.split_seed is not None:
            check_int("split_seed", self.split_seed, low=0)
        if not isinstance(self.standardize, bool):
            raise TypeError(f"standardize must be true or false, got {self.standardize!r}")


class Digits(Task):
    """scikit-learn's digits; see the module docstring."""

    Options = DigitsOptions
    model = ModelSpec(Arch.CNN, width=128, depth=1, channels=32)
    optimizer = OptimizerSpec(OptimizerName.ADAM, lr=1e-3)
    budget = Budget(steps=1000, batch_size=64, eval_every=50)
    archs = (Arch.CNN, Arch.MLP)

    def generate(self, options: Any, split_seed: int, cache_dir: Path | None) -> Split:
        seed = split_seed if options.split_seed is None else options.split_seed
        return datasets.digits(options.train_size, seed, options.standardize)


TASKS = (
    Digits("digits", "scikit-learn's 8x8 digits, 1000 train / 797 test images; small CNN"),
    Digits(
        "noisy-digits",
        "digits with 40% of training labels flipped to another class (clean test labels)",
        label_noise=0.4,
    ),
)
