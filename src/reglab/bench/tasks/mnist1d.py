"""mnist1d and noisy-mnist1d: the mnist1d generator's signals of length 40; small 1-D CNN.

The signals come from the ``mnist1d`` package's generator (never its download), fixed by
``dataset_seed`` (the same signals for every run seed), cached as .npz. ``noisy-mnist1d`` is the
same task with ``label_noise: 0.4`` by default.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reglab._core.validation import check_int, check_number
from reglab.bench import datasets
from reglab.bench.datasets import Split
from reglab.bench.models import Arch, ModelSpec
from reglab.bench.optimizers import OptimizerName, OptimizerSpec
from reglab.bench.tasks.base import Budget, DataOptions, Task


@dataclass(frozen=True)
class Mnist1dOptions(DataOptions):
    """num_samples generated (train_split of them for training); dataset_seed of the generator."""

    num_samples: int = 5000
    train_split: float = 0.8
    dataset_seed: int = 42  # the generator's seed: the same signals for every run seed

    def __post_init__(self) -> None:
        super().__post_init__()
        check_int("num_samples", self.num_samples, low=20)
        check_number("train_split", self.train_split, low=0, high=1, low_open=True, high_open=True)
        check_int("dataset_seed", self.dataset_seed, low=0)


class Mnist1d(Task):
    """mnist1d from its generator; see the module docstring."""

    Options = Mnist1dOptions
    model = ModelSpec(Arch.CNN, width=128, depth=1, channels=32)
    optimizer = OptimizerSpec(OptimizerName.ADAM, lr=1e-3)
    budget = Budget(steps=2000, batch_size=128, eval_every=100)
    archs = (Arch.CNN, Arch.MLP)

    def generate(self, options: Any, split_seed: int, cache_dir: Path | None) -> Split:
        return datasets.mnist1d(
            options.num_samples, options.train_split, options.dataset_seed, cache_dir
        )


TASKS = (
    Mnist1d(
        "mnist1d",
        "mnist1d from its generator (offline), 4000 train / 1000 test signals of length 40",
    ),
    Mnist1d(
        "noisy-mnist1d",
        "mnist1d with 40% of training labels flipped to another class (clean test labels)",
        label_noise=0.4,
    ),
)
