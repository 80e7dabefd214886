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
reglab._core.registry.UnknownNameError: unknown task 'digit' (did you mean 'digits' or 'noisy-digits' or 'permuted-digits'?); tasks: bit-flipping, digits, finetune-digits, mnist1d, modular-addition, noisy-digits, noisy-mnist1d, permuted-digits, permuted-mnist1d
"""

from __future__ import annotations

from reglab._core.registry import UnknownNameError
from reglab._core.validation import did_you_mean
from reglab.bench.tasks import bit_flipping, digits, finetune, mnist1d, modular_addition, permuted
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

_MODULES = (modular_addition, digits, mnist1d, finetune, permuted, bit_flipping)


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
