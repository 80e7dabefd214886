"""Benchmark tasks: offline, seeded classification problems, each a small class.

A task states its data options (with defaults), its default model, optimizer and budget, and
makes a ``Split`` for a seed. Every task also takes a user's data (``data_file``: a .npz/.pt
with ``x``/``y``) in place of its own, and symmetric label noise on the training labels
(``label_noise``; test labels stay clean). The run seed chooses the split, the noise and the
initialization, so arms compared at the same seed share all three.

=================  =========================================================================
modular-addition   (a + b) mod p over all pairs, a random training fraction (grokking); MLP
                   on one-hot pairs, or a 1-layer transformer; ``label_noise`` is ξ
digits             scikit-learn's bundled 8×8 digits as (N, 1, 8, 8); small CNN
noisy-digits       digits with 40% of training labels flipped
mnist1d            the mnist1d generator's 4000/1000 signals of length 40; small 1-D CNN
noisy-mnist1d      mnist1d with 40% of training labels flipped
=================  =========================================================================

>>> task = get_task("modular-addition")
>>> opts = task.options({"p": 11, "train_fraction": 0.5})
>>> split = task.load(opts, seed=0, cache_dir=None)
>>> len(split.y_train), len(split.y_test)
(60, 61)
>>> get_task("digit")
Traceback (most recent call last):
...
reglab._core.registry.UnknownNameError: unknown task 'digit' (did you mean 'digits' or 'noisy-digits'?); tasks: digits, mnist1d, modular-addition, noisy-digits, noisy-mnist1d
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch

from reglab._core.registry import UnknownNameError
from reglab._core.validation import check_choice, check_int, check_number, did_you_mean
from reglab.bench import datasets
from reglab.bench._config import from_mapping
from reglab.bench.datasets import NoiseMode, Split
from reglab.bench.models import Arch, ModelSpec
from reglab.bench.optimizers import OptimizerName, OptimizerSpec
from reglab.bench.user_data import load_user_data


@dataclass(frozen=True)
class Budget:
    """steps >= 1 optimizer steps; batch_size (None: full batch); eval_every >= 1 steps."""

    steps: int
    batch_size: int | None
    eval_every: int

    def __post_init__(self) -> None:
        check_int("steps", self.steps, low=1)
        check_int("eval_every", self.eval_every, low=1)
        if self.batch_size is not None:
            check_int("batch_size", self.batch_size, low=1)


@dataclass(frozen=True)
class DataOptions:
    """Options every task has: label noise on the training set and a user's data file."""

    label_noise: float = 0.0
    noise_mode: NoiseMode = NoiseMode.FLIP
    data_file: str | None = None
    test_fraction: float = 0.2  # held out of a user's file that has no x_test/y_test

    def __post_init__(self) -> None:
        check_number("label_noise", self.label_noise, low=0, high=1)
        object.__setattr__(
            self, "noise_mode", check_choice("noise_mode", self.noise_mode, NoiseMode)
        )
        check_number(
            "test_fraction", self.test_fraction, low=0, high=1, low_open=True, high_open=True
        )
        if self.data_file is not None and not isinstance(self.data_file, str):
            raise TypeError(f"data_file must be a path string, got {type(self.data_file).__name__}")


class Task:
    """Base class; subclasses set the class attributes and ``generate``."""

    name: ClassVar[str]
    summary: ClassVar[str]
    Options: ClassVar[type[DataOptions]] = DataOptions
    model: ClassVar[ModelSpec]
    optimizer: ClassVar[OptimizerSpec]
    budget: ClassVar[Budget]
    archs: ClassVar[tuple[Arch, ...]]

    def options(self, given: dict[str, Any] | None = None) -> DataOptions:
        """The task's data options with ``given`` overriding the defaults (unknown keys refused)."""
        return from_mapping(self.Options, given or {}, f"task {self.name!r} data options")

    def generate(self, options: Any, seed: int, cache_dir: Path | None) -> Split:
        """The task's own data for ``seed`` (before label noise)."""
        raise NotImplementedError

    def load(self, options: DataOptions, seed: int, cache_dir: Path | None) -> Split:
        """The split for ``seed``: the user's file or the task's own data, then label noise."""
        if options.data_file is not None:
            split = load_user_data(options.data_file, options.test_fraction, seed)
        else:
            split = self.generate(options, seed, cache_dir)
        noise = torch.Generator().manual_seed(10_000 + seed)
        return datasets.corrupt_labels(split, options.label_noise, options.noise_mode, noise)

    def check_model(self, spec: ModelSpec) -> ModelSpec:
        """``spec``, if its architecture is one this task supports."""
        if spec.arch not in self.archs:
            names = ", ".join(a.value for a in self.archs)
            raise ValueError(
                f"task {self.name!r} supports model.arch {names}; got {spec.arch.value!r}"
            )
        return spec


@dataclass(frozen=True)
class ModularOptions(DataOptions):
    """p >= 2 (the modulus and number of classes); train_fraction in (0, 1) of all p² pairs."""

    p: int = 97
    train_fraction: float = 0.4

    def __post_init__(self) -> None:
        super().__post_init__()
        check_int("p", self.p, low=2)
        check_number(
            "train_fraction", self.train_fraction, low=0, high=1, low_open=True, high_open=True
        )


class ModularAddition(Task):
    """See ``summary``."""

    name = "modular-addition"
    summary = "(a + b) mod p, p=97, 40% of pairs for training (grokking); label_noise = ξ"
    Options = ModularOptions
    model = ModelSpec(Arch.MLP, width=200, depth=2)
    optimizer = OptimizerSpec(OptimizerName.ADAMW, lr=1e-3, weight_decay=1.0)
    budget = Budget(steps=4000, batch_size=None, eval_every=100)
    archs = (Arch.MLP, Arch.TRANSFORMER)

    def generate(self, options: Any, seed: int, cache_dir: Path | None) -> Split:
        return datasets.modular_addition(options.p, options.train_fraction, seed)


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


@dataclass(frozen=True)
class NoisyDigitsOptions(DigitsOptions):
    """digits options with 40% label noise by default."""

    label_noise: float = 0.4


class Digits(Task):
    """See ``summary``."""

    name = "digits"
    summary = "scikit-learn's 8x8 digits, 1000 train / 797 test images; small CNN"
    Options = DigitsOptions
    model = ModelSpec(Arch.CNN, width=128, depth=1, channels=32)
    optimizer = OptimizerSpec(OptimizerName.ADAM, lr=1e-3)
    budget = Budget(steps=1000, batch_size=64, eval_every=50)
    archs = (Arch.CNN, Arch.MLP)

    def generate(self, options: Any, seed: int, cache_dir: Path | None) -> Split:
        split_seed = seed if options.split_seed is None else options.split_seed
        return datasets.digits(options.train_size, split_seed, options.standardize)


class NoisyDigits(Digits):
    """See ``summary``."""

    name = "noisy-digits"
    summary = "digits with 40% of training labels flipped to another class (clean test labels)"
    Options = NoisyDigitsOptions


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


@dataclass(frozen=True)
class NoisyMnist1dOptions(Mnist1dOptions):
    """mnist1d options with 40% label noise by default."""

    label_noise: float = 0.4


class Mnist1d(Task):
    """See ``summary``."""

    name = "mnist1d"
    summary = "mnist1d from its generator (offline), 4000 train / 1000 test signals of length 40"
    Options = Mnist1dOptions
    model = ModelSpec(Arch.CNN, width=128, depth=1, channels=32)
    optimizer = OptimizerSpec(OptimizerName.ADAM, lr=1e-3)
    budget = Budget(steps=2000, batch_size=128, eval_every=100)
    archs = (Arch.CNN, Arch.MLP)

    def generate(self, options: Any, seed: int, cache_dir: Path | None) -> Split:
        return datasets.mnist1d(
            options.num_samples, options.train_split, options.dataset_seed, cache_dir
        )


class NoisyMnist1d(Mnist1d):
    """See ``summary``."""

    name = "noisy-mnist1d"
    summary = "mnist1d with 40% of training labels flipped to another class (clean test labels)"
    Options = NoisyMnist1dOptions


TASKS: dict[str, Task] = {
    t.name: t for t in (ModularAddition(), Digits(), NoisyDigits(), Mnist1d(), NoisyMnist1d())
}


def get_task(name: str) -> Task:
    """The task called ``name``; an unknown name raises with the nearest names."""
    try:
        return TASKS[name]
    except KeyError:
        raise UnknownNameError(
            f"unknown task {name!r}{did_you_mean(name, TASKS)}; tasks: {', '.join(sorted(TASKS))}"
        ) from None
