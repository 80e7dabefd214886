"""finetune-mnist1d: pretrain on mnist1d classes 0–4, fine-tune on a few signals of 5–9, test
under a shifted generator.

The signals come from the ``mnist1d`` package's generator (never its download) with its
default arguments and ``dataset_seed``, ``num_samples`` of them over the ten classes (train and
test parts pooled). The source is every signal of classes 0–4; the model (a 1-D CNN) is
pretrained on it once (``reglab.bench.pretrained``) and cached in the results folder keyed by
its settings, so every arm and seed fine-tunes from the same weights; its head keeps its fresh
initialization. The target is classes 5–9 relabelled 0–4: ``shots`` signals per class drawn
by the run seed, ``val_per_class`` more as the validation set, the rest as the test set.
The shifted test set (``shift_acc``) is classes 5–9 of a second run of the generator (seed
``dataset_seed + 1``) with stronger distortions from its own arguments: correlated noise
``shift_corr_noise`` (default generator 0.25), i.i.d. noise ``shift_iid_noise`` (0.02) and
shear ``shift_shear`` (0.75). Each generator run sets NumPy's and Python's global seeds; they
are put back (``reglab.bench.datasets``), and the arrays are cached as .npz in the cache folder.

>>> from reglab.bench.tasks import get_task
>>> task = get_task("finetune-mnist1d")
>>> split = task.load(task.options({"num_samples": 200}), seed=0, cache_dir=None)
>>> split.x_train.shape, split.num_classes, sorted(split.y_train.unique().tolist())
(torch.Size([50, 40]), 5, [0, 1, 2, 3, 4])
>>> split.x_shift.shape
torch.Size([100, 40])
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from reglab._core.validation import check_int, check_number
from reglab.bench.datasets import Split, _generate_mnist1d
from reglab.bench.tasks.finetune_base import (
    SOURCE_CLASSES,
    TARGET_CLASSES,
    FinetuneOptions,
    FinetuneTask,
    few_shot,
)


@dataclass(frozen=True)
class FinetuneMnist1dOptions(FinetuneOptions):
    """The generator's sample count and seed; the shifted generator's distortions."""

    num_samples: int = 4000
    dataset_seed: int = 42
    shift_corr_noise: float = 0.5
    shift_iid_noise: float = 0.1
    shift_shear: float = 1.5

    def __post_init__(self) -> None:
        super().__post_init__()
        check_int("num_samples", self.num_samples, low=100)
        check_int("dataset_seed", self.dataset_seed, low=0)
        check_number("shift_corr_noise", self.shift_corr_noise, low=0)
        check_number("shift_iid_noise", self.shift_iid_noise, low=0)
        check_number("shift_shear", self.shift_shear, low=0)

    def shift_settings(self) -> dict[str, float]:
        return {
            "corr_noise_scale": self.shift_corr_noise,
            "iid_noise_scale": self.shift_iid_noise,
            "shear_scale": self.shift_shear,
        }


def signals(
    num_samples: int, seed: int, cache_dir: Path | None, **settings: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """All ``num_samples`` signals of the generator (train and test parts pooled) and labels,
    cached as .npz under a key of the arguments."""
    text = json.dumps([num_samples, seed, settings], sort_keys=True)
    name = f"mnist1d-pool-{hashlib.sha256(text.encode()).hexdigest()[:16]}.npz"
    path = cache_dir / name if cache_dir is not None else None
    if path is not None and path.exists():
        arrays = dict(np.load(path, allow_pickle=False))
    else:
        arrays = _generate_mnist1d(num_samples, 0.5, seed, **settings)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
            np.savez(tmp, **arrays)
            os.replace(tmp, path)  # atomic: concurrent workers never read a half-written file
    x = torch.tensor(np.concatenate([arrays["x"], arrays["x_test"]]), dtype=torch.float32)
    y = torch.tensor(np.concatenate([arrays["y"], arrays["y_test"]]), dtype=torch.long)
    return x, y


def source_data(options: Any, cache_dir: Path | None) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = signals(options.num_samples, options.dataset_seed, cache_dir)
    keep = torch.isin(y, torch.tensor(SOURCE_CLASSES))
    return x[keep], y[keep]


class FinetuneMnist1d(FinetuneTask):
    """Pretrain on mnist1d 0–4, fine-tune on few signals of 5–9; see the module docstring."""

    Options = FinetuneMnist1dOptions

    def generate(self, options: Any, split_seed: int, cache_dir: Path | None) -> Split:
        x, y = signals(options.num_samples, options.dataset_seed, cache_dir)
        gen = torch.Generator().manual_seed(split_seed)
        tr, va, te = few_shot(y, options.shots, options.val_per_class, gen)
        y_target = y - TARGET_CLASSES[0]
        xs, ys = signals(
            options.num_samples, options.dataset_seed + 1, cache_dir, **options.shift_settings()
        )
        shifted = torch.isin(ys, torch.tensor(TARGET_CLASSES))
        return Split(
            x[tr], y_target[tr], x[te], y_target[te], y_target[tr], len(TARGET_CLASSES),
            x_shift=xs[shifted], y_shift=ys[shifted] - TARGET_CLASSES[0],
            **({"x_val": x[va], "y_val": y_target[va]} if len(va) else {}),
        )

    def source(
        self, options: Any, cache_dir: Path | None
    ) -> tuple[torch.Tensor, torch.Tensor, tuple[Any, ...]]:
        """The generator's signals of classes 0–4, keyed by its sample count and seed."""
        xs, ys = source_data(options, cache_dir)
        return xs, ys, ({"num_samples": options.num_samples, "dataset_seed": options.dataset_seed},)


TASKS = (
    FinetuneMnist1d(
        "finetune-mnist1d",
        "pretrain on mnist1d 0-4, fine-tune on 10 signals per class of 5-9; shifted generator test",
    ),
)
