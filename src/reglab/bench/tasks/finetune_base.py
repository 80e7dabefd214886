"""What every fine-tuning task shares: source classes 0–4 and target classes 5–9, the few-shot
split of the target, the pretraining options, and ``FinetuneTask``: the default model, optimizer
and budget, kept weights, and a start from the body pretrained on the source
(``reglab.bench.pretrained``).

A fine-tuning task (``finetune-digits``, ``finetune-mnist1d``) subclasses ``FinetuneTask``,
states its ``Options`` (a ``FinetuneOptions``), makes its ``Split`` in ``generate`` and gives its
source data in ``source``.

>>> tr, va, te = few_shot(torch.tensor([5, 6, 5, 6, 5, 6, 0]), 1, 1, torch.Generator().manual_seed(0))
>>> len(tr), len(va), len(te)
(2, 2, 2)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from reglab._core.validation import check_int
from reglab.bench import pretrained
from reglab.bench.models import Arch, ModelSpec
from reglab.bench.optimizers import OptimizerName, OptimizerSpec
from reglab.bench.tasks.base import Budget, DataOptions, Task

SOURCE_CLASSES = (0, 1, 2, 3, 4)
TARGET_CLASSES = (5, 6, 7, 8, 9)


@dataclass(frozen=True)
class FinetuneOptions(DataOptions):
    """Every fine-tuning task's options: shots and validation images per target class, and the
    pretraining settings."""

    shots: int = 10
    val_per_class: int = 0
    pretrain_steps: int = 500
    pretrain_lr: float = 1e-3
    pretrain_batch_size: int = 64
    pretrain_seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.data_file is not None:
            raise ValueError(
                "fine-tuning tasks make their own source and target splits; data_file is not "
                "supported"
            )
        check_int("shots", self.shots, low=1, high=100)
        check_int("val_per_class", self.val_per_class, low=0, high=100)
        self.pretraining()  # checks the pretraining settings

    def pretraining(self) -> pretrained.Pretraining:
        return pretrained.Pretraining(
            self.pretrain_steps, self.pretrain_lr, self.pretrain_batch_size, self.pretrain_seed
        )


def few_shot(
    y: torch.Tensor, shots: int, val: int, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Indices (train, validation, test) into ``y`` over ``TARGET_CLASSES``: per class, in a
    seeded permutation, the first ``shots``, the next ``val``, and the rest."""
    parts: tuple[list[torch.Tensor], ...] = ([], [], [])
    for c in TARGET_CLASSES:
        idx = torch.nonzero(y == c).flatten()
        idx = idx[torch.randperm(len(idx), generator=gen)]
        for part, chosen in zip(parts, (idx[:shots], idx[shots : shots + val], idx[shots + val :])):
            part.append(chosen)
    tr, va, te = (torch.cat(p) for p in parts)
    return tr, va, te


class FinetuneTask(Task):
    """A fine-tuning task: pretrain on the source (cached), fine-tune on few target examples.

    Subclasses set ``Options`` and define ``generate`` and ``source``."""

    Options = FinetuneOptions
    model = ModelSpec(Arch.CNN, width=128, depth=1, channels=32)
    optimizer = OptimizerSpec(OptimizerName.ADAM, lr=1e-3)
    budget = Budget(steps=200, batch_size=None, eval_every=20)
    archs = (Arch.CNN, Arch.MLP)
    keep_weights = True

    def source(
        self, options: Any, cache_dir: Path | None
    ) -> tuple[torch.Tensor, torch.Tensor, tuple[Any, ...]]:
        """The source inputs and labels (classes 0–4) to pretrain on, and the source data's own
        settings that key the pretrained weights besides the task, model and pretraining."""
        raise NotImplementedError

    def start(
        self, model: nn.Module, spec: ModelSpec, options: Any, cache_dir: Path | None
    ) -> None:
        """Load the pretrained weights (all but the head), pretraining them if not cached."""
        xs, ys, settings = self.source(options, cache_dir)
        pretrained.start_from(
            model, spec, self.name, xs, ys, options.pretraining(), cache_dir, *settings
        )
