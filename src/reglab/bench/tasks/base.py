"""What every task shares: the budget, the data options every task has, and the ``Task`` base.

A task class states its own data options (a frozen dataclass extending ``DataOptions``), its
default model, optimizer and budget, and ``generate``s its data from a split seed. An instance
is a registered task: its name, a summary, and defaults for some options, so that a variant
(``noisy-digits`` is ``digits`` with ``label_noise: 0.4``) is one more instance, not one more
class. ``load`` derives the split and label-noise streams from the run seed (``streams``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from reglab._core.validation import check_choice, check_int, check_number
from reglab.bench import datasets, streams
from reglab.bench._config import from_mapping
from reglab.bench.datasets import NoiseMode, Split
from reglab.bench.final_measures import OptionalMeasure
from reglab.bench.models import Arch, ModelSpec
from reglab.bench.optimizers import OptimizerSpec
from reglab.bench.user_data import load_user_data


@dataclass(frozen=True)
class Budget:
    """steps >= 1 optimizer steps; batch_size (None: full batch); eval_every >= 1 steps;
    measures: costly end-of-run measures to add (``final_measures.OptionalMeasure``)."""

    steps: int
    batch_size: int | None
    eval_every: int
    measures: tuple[str, ...] | list[str] = ()

    def __post_init__(self) -> None:
        check_int("steps", self.steps, low=1)
        check_int("eval_every", self.eval_every, low=1)
        if self.batch_size is not None:
            check_int("batch_size", self.batch_size, low=1)
        if isinstance(self.measures, str) or not isinstance(self.measures, (tuple, list)):
            raise ValueError(f"budget.measures must be a list of names, got {self.measures!r}")
        for name in self.measures:
            check_choice("budget.measures", name, OptionalMeasure)


@dataclass(frozen=True)
class DataOptions:
    """Options every task has: label noise on the training set and a user's data file."""

    label_noise: float = 0.0
    noise_mode: NoiseMode = NoiseMode.FLIP
    data_file: str | None = None
    test_fraction: float = 0.2  # held out of a user's file that has no x_test/y_test
    # > 0: hold out this fraction of the training set (labels as trained on) as a validation set
    # that replaces the test set, so a run scores a setting without seeing the test data
    validation: float = 0.0

    def __post_init__(self) -> None:
        check_number("label_noise", self.label_noise, low=0, high=1)
        object.__setattr__(
            self, "noise_mode", check_choice("noise_mode", self.noise_mode, NoiseMode)
        )
        check_number(
            "test_fraction", self.test_fraction, low=0, high=1, low_open=True, high_open=True
        )
        check_number("validation", self.validation, low=0, high=1, high_open=True)
        if self.data_file is not None and not isinstance(self.data_file, str):
            raise TypeError(f"data_file must be a path string, got {type(self.data_file).__name__}")


def carve_validation(split: Split, fraction: float, seed: int) -> Split:
    """``split`` with round(fraction·N) training examples, drawn by the split stream, as its
    test set: the validation set keeps the labels as trained on (noisy ones included), so
    choosing a setting by it never looks at the test data."""
    n = len(split.y_train)
    count = round(fraction * n)
    if not 1 <= count < n:
        raise ValueError(f"validation {fraction} of {n} training examples leaves no set to use")
    stream = f"{streams.Stream.SPLIT}/validation"
    gen = torch.Generator().manual_seed(streams.seed_of(seed, stream))
    order = torch.randperm(n, generator=gen)
    va, tr = order[:count], order[count:]
    return replace(
        split,
        x_train=split.x_train[tr],
        y_train=split.y_train[tr],
        clean_train=split.clean_train[tr],
        x_test=split.x_train[va],
        y_test=split.y_train[va],
    )


class Task:
    """Base class; subclasses set the class attributes and ``generate``.

    ``Task(name, summary, **defaults)`` registers one task: ``defaults`` override the option
    class's defaults (and are checked now), e.g. ``label_noise=0.4`` for a noisy variant.
    """

    Options: ClassVar[type[DataOptions]] = DataOptions
    model: ClassVar[ModelSpec]
    optimizer: ClassVar[OptimizerSpec]
    budget: ClassVar[Budget]
    archs: ClassVar[tuple[Arch, ...]]
    # the harness saves each done run's final weights (``reglab.bench.run_weights``)
    keep_weights: ClassVar[bool] = False

    def __init__(self, name: str, summary: str, **defaults: Any) -> None:
        self.name, self.summary, self.defaults = name, summary, dict(defaults)
        self.options()  # the defaults are valid options

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v!r}" for k, v in self.defaults.items())
        return f"{type(self).__name__}({self.name!r}{extra})"

    def options(self, given: dict[str, Any] | None = None) -> DataOptions:
        """The task's data options with ``given`` overriding the defaults (unknown keys refused)."""
        values = {**self.defaults, **(given or {})}
        return from_mapping(self.Options, values, f"task {self.name!r} data options")

    def generate(self, options: Any, split_seed: int, cache_dir: Path | None) -> Split:
        """The task's own data, split by ``split_seed`` (before label noise)."""
        raise NotImplementedError

    def load(self, options: DataOptions, seed: int, cache_dir: Path | None) -> Split:
        """The split for run ``seed``: the user's file or the task's own data, then label noise."""
        split_seed = streams.seed_of(seed, streams.Stream.SPLIT)
        if options.data_file is not None:
            split = load_user_data(options.data_file, options.test_fraction, split_seed)
        else:
            split = self.generate(options, split_seed, cache_dir)
        noise = streams.generator(seed, streams.Stream.LABEL_NOISE)
        split = datasets.corrupt_labels(split, options.label_noise, options.noise_mode, noise)
        if options.validation > 0:
            split = carve_validation(split, options.validation, seed)
        return split

    def start(
        self, model: nn.Module, spec: ModelSpec, options: Any, cache_dir: Path | None
    ) -> None:
        """Set the freshly built ``model``'s starting weights (fine-tuning tasks load pretrained
        ones here, before any surgery and before the optimizer); by default nothing."""

    def check_model(self, spec: ModelSpec) -> ModelSpec:
        """``spec``, if its architecture is one this task supports."""
        if spec.arch not in self.archs:
            names = ", ".join(a.value for a in self.archs)
            raise ValueError(
                f"task {self.name!r} supports model.arch {names}; got {spec.arch.value!r}"
            )
        return spec
