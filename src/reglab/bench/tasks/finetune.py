"""finetune-digits: pretrain on digits 0–4, fine-tune on a few images of 5–9, test under shift.

The source is every scikit-learn digit of classes 0–4 (about 900 images); the model is
pretrained on it once (``reglab.bench.pretrained``: Adam, ``pretrain_steps`` mini-batches of
``pretrain_batch_size``, initialization and order from ``pretrain_seed``) and cached in the results
folder keyed by its settings, so every arm and every seed fine-tunes from the same weights. The
target is classes 5–9 relabelled 0–4: ``shots`` training images per class, drawn by the run
seed, and the other images of those classes as the test set. The head (the last linear layer)
is not loaded: it keeps its fresh initialization (the run seed's ``init`` stream). The shifted
test set (``shift_acc``) is the same test images moved ``shift_pixels`` to the right and down
(the uncovered pixels are background) plus Gaussian noise of standard deviation ``shift_noise``
(in standardized pixel units), drawn from the split seed. With ``val_per_class`` > 0, that
many further images per target class are held out of the test set as a validation set
(``Split.x_val``: model soups choose their members on it, never on the test set). Pixels are
standardized by the source images' mean and standard deviation. A user's data file is refused
(the source must match the target's inputs). The harness keeps each run's final weights
(``keep_weights``), so claims can average or merge the fine-tuned models afterwards.

>>> from reglab.bench.tasks import get_task
>>> task = get_task("finetune-digits")
>>> split = task.load(task.options(), seed=0, cache_dir=None)
>>> split.x_train.shape, split.num_classes, sorted(split.y_train.unique().tolist())
(torch.Size([50, 1, 8, 8]), 5, [0, 1, 2, 3, 4])
>>> split.x_shift.shape == split.x_test.shape
True
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from reglab._core.validation import check_int, check_number
from reglab.bench.datasets import Split
from reglab.bench.tasks.finetune_base import (
    SOURCE_CLASSES,
    TARGET_CLASSES,
    FinetuneOptions,
    FinetuneTask,
    few_shot,
)


@dataclass(frozen=True)
class FinetuneDigitsOptions(FinetuneOptions):
    """shots per target class; the shifted test set; the pretraining settings."""

    shift_pixels: int = 1
    shift_noise: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_int("shift_pixels", self.shift_pixels, low=0, high=7)
        check_number("shift_noise", self.shift_noise, low=0)


def _digits() -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    data = load_digits()
    x = torch.tensor(data.data, dtype=torch.float32).view(-1, 1, 8, 8) / 16.0
    return x, torch.tensor(data.target, dtype=torch.long)


def source_data() -> tuple[torch.Tensor, torch.Tensor, float, float]:
    """The standardized source images and labels, and the standardization (mean, std)."""
    x, y = _digits()
    keep = torch.isin(y, torch.tensor(SOURCE_CLASSES))
    xs = x[keep]
    mean, std = float(xs.mean()), float(xs.std())
    return (xs - mean) / std, y[keep], mean, std


def shifted(x: torch.Tensor, pixels: int, noise: float, fill: float, gen: torch.Generator) -> torch.Tensor:
    """``x`` (N, 1, H, W) moved ``pixels`` right and down (uncovered pixels = ``fill``) plus noise."""
    out = torch.full_like(x, fill)
    h, w = x.shape[-2:]
    out[..., pixels:, pixels:] = x[..., : h - pixels, : w - pixels]
    return out + noise * torch.randn(x.shape, generator=gen, dtype=x.dtype)


class FinetuneDigits(FinetuneTask):
    """Pretrain on digits 0–4, fine-tune on few images of 5–9; see the module docstring."""

    Options = FinetuneDigitsOptions

    def generate(self, options: Any, split_seed: int, cache_dir: Path | None) -> Split:
        x, y = _digits()
        _, _, mean, std = source_data()
        x = (x - mean) / std
        gen = torch.Generator().manual_seed(split_seed)
        tr, va, te = few_shot(y, options.shots, options.val_per_class, gen)
        y_target = y - TARGET_CLASSES[0]
        fill = (0.0 - mean) / std  # a blank pixel
        x_shift = shifted(x[te], options.shift_pixels, options.shift_noise, fill, gen)
        return Split(
            x[tr], y_target[tr], x[te], y_target[te], y_target[tr], len(TARGET_CLASSES),
            x_shift=x_shift, y_shift=y_target[te],
            **({"x_val": x[va], "y_val": y_target[va]} if len(va) else {}),
        )

    def source(
        self, options: Any, cache_dir: Path | None
    ) -> tuple[torch.Tensor, torch.Tensor, tuple[Any, ...]]:
        """The standardized digits 0–4; no settings of their own."""
        xs, ys, _, _ = source_data()
        return xs, ys, ()


TASKS = (
    FinetuneDigits(
        "finetune-digits",
        "pretrain on digits 0-4, fine-tune on 10 images per class of 5-9; shifted test set",
    ),
)
