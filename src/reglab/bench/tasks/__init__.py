"""Benchmark tasks: offline, seeded classification problems, one file a task.

A task states its data options (with defaults), its default model, optimizer and budget, and
makes a ``Split`` for a seed. Every task also takes a user's data (``data_file``: a .npz/.pt
with ``x``/``y``) in place of its own, and symmetric label noise on the training labels
(``label_noise``; test labels stay clean). The run seed chooses the split, the noise and the
initialization (each its own stream, ``reglab.bench.streams``), so arms compared at the same
seed share all three. A variant such as ``noisy-digits`` is the task registered again with
other default options (``label_noise: 0.4``), not another class.

=================  =========================================================================
modular-addition   (a + b) mod p over all pairs, a random training fraction (grokking); MLP
                   on one-hot pairs, or a 1-layer transformer; ``label_noise`` is ξ
digits             scikit-learn's bundled 8×8 digits as (N, 1, 8, 8); small CNN
noisy-digits       digits with ``label_noise: 0.4`` (40% of training labels flipped)
mnist1d            the mnist1d generator's 4000/1000 signals of length 40; small 1-D CNN
noisy-mnist1d      mnist1d with ``label_noise: 0.4``
permuted-digits    digits as a sequence of tasks, each a fixed permutation of the pixels; MLP
permuted-mnist1d   mnist1d as such a sequence (plasticity: ``reglab.bench.tasks.permuted``)
bit-flipping       slowly-changing regression, online, batch size 1 (Dohare et al. 2024)
finetune-digits    pretrain on digits 0–4 (cached), fine-tune on 10 images per class of 5–9;
                   ``shift_acc`` on a shifted, noisier test set
finetune-mnist1d   the same on mnist1d signals (1-D CNN); ``shift_acc`` on a second generator
                   run with more noise and shear
diffusion-2d       a tiny DDPM on 8 Gaussians on a circle; sliced Wasserstein of its samples to
                   fresh data (``sample_swd``); ``gamma``: DDPM-IP's input perturbation
hmm-text           next token of text from a fixed random hidden Markov model, windows of 8
                   tokens (language modelling; known entropy floor); 2-layer LSTM
self-distill-      digits without labels: a student MLP against its EMA teacher on two
digits             augmented views (representation collapse; ``tasks.self_distill``)
=================  =========================================================================

To add a task: a module here with its option dataclass, its ``Task`` subclass and a ``TASKS``
tuple of instances, listed in ``_MODULES`` below.

>>> task = get_task("modular-addition")
>>> opts = task.options({"p": 11, "train_fraction": 0.5})
>>> split = task.load(opts, seed=0, cache_dir=None)
>>> len(split.y_train), len(split.y_test)
(60, 61)
>>> get_task("noisy-digits").options().label_noise
0.4
>>> get_task("digit")
Traceback (most recent call last):
...
reglab._core.registry.UnknownNameError: unknown task 'digit' (did you mean 'digits' or 'noisy-digits' or 'permuted-digits'?); tasks: bit-flipping, diffusion-2d, digits, finetune-digits, finetune-mnist1d, hmm-text, mnist1d, modular-addition, noisy-digits, noisy-mnist1d, permuted-digits, permuted-mnist1d, self-distill-digits
"""

from __future__ import annotations

from reglab._core.registry import UnknownNameError
from reglab._core.validation import did_you_mean
from reglab.bench.tasks import (
    bit_flipping,
    diffusion_2d,
    digits,
    finetune,
    finetune_mnist1d,
    hmm_text,
    mnist1d,
    modular_addition,
    permuted,
    self_distill,
)
from reglab.bench.tasks.base import Budget, DataOptions, Task
from reglab.bench.tasks.digits import Digits, DigitsOptions
from reglab.bench.tasks.mnist1d import Mnist1d, Mnist1dOptions
from reglab.bench.tasks.modular_addition import ModularAddition, ModularOptions

__all__ = [
    "TASKS",
    "Budget",
    "DataOptions",
    "Digits",
    "DigitsOptions",
    "Mnist1d",
    "Mnist1dOptions",
    "ModularAddition",
    "ModularOptions",
    "Task",
    "get_task",
]

_MODULES = (modular_addition, digits, mnist1d, finetune, finetune_mnist1d, permuted, bit_flipping,
            hmm_text, self_distill, diffusion_2d)


def _collect() -> dict[str, Task]:
    tasks: dict[str, Task] = {}
    for module in _MODULES:
        for task in module.TASKS:
            if task.name in tasks:
                raise RuntimeError(f"task {task.name!r} is registered twice")
            tasks[task.name] = task
    return tasks


TASKS: dict[str, Task] = _collect()


def get_task(name: str) -> Task:
    """The task called ``name``; an unknown name raises with the nearest names."""
    try:
        return TASKS[name]
    except KeyError:
        raise UnknownNameError(
            f"unknown task {name!r}{did_you_mean(name, TASKS)}; tasks: {', '.join(sorted(TASKS))}"
        ) from None
