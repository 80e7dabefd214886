"""modular-addition: (a + b) mod p over all pairs, a random training fraction (grokking).

An MLP on one-hot pairs or a 1-layer transformer; ``label_noise`` is the ξ of the grokking
papers (a fraction of training labels replaced).
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
    """(a + b) mod p; see the module docstring."""

    Options = ModularOptions
    model = ModelSpec(Arch.MLP, width=200, depth=2)
    optimizer = OptimizerSpec(OptimizerName.ADAMW, lr=1e-3, weight_decay=1.0)
    budget = Budget(steps=4000, batch_size=None, eval_every=100)
    archs = (Arch.MLP, Arch.TRANSFORMER)

    def generate(self, options: Any, split_seed: int, cache_dir: Path | None) -> Split:
        return datasets.modular_addition(options.p, options.train_fraction, split_seed)


TASKS = (
    ModularAddition(
        "modular-addition",
        "(a + b) mod p, p=97, 40% of pairs for training (grokking); label_noise = ξ",
    ),
)
