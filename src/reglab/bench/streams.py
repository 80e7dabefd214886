"""Every random stream of a run, derived in this one place from the run's seed, by name.

A run draws from several independent streams: the train/test split, the label noise, the
model's initialization (PyTorch's global generator, seeded just before the model is built, so
the model's own dropout continues it), the mini-batch order, and one ``generator=`` for each
stochastic method of the recipe (by its position in the recipe). Each stream's seed is a hash
of (run seed, stream name), so streams never overlap and changing one part of a run (a wider
model, one more method after Mixup) leaves the other streams' draws unchanged.

>>> seed_of(0, Stream.SPLIT) == seed_of(0, Stream.SPLIT) != seed_of(0, Stream.LABEL_NOISE)
True
>>> method_stream(1)
'method-1'
>>> int(torch.randint(0, 10**6, (1,), generator=generator(0, method_stream(0)))) == int(
...     torch.randint(0, 10**6, (1,), generator=generator(0, method_stream(0))))
True
"""

from __future__ import annotations

import hashlib
from enum import StrEnum

import torch

from reglab._core.validation import check_int


class Stream(StrEnum):
    """The streams of a run other than the methods' (see ``method_stream``)."""

    SPLIT = "split"
    LABEL_NOISE = "label-noise"
    INIT = "init"
    BATCH_ORDER = "batch-order"


def method_stream(index: int) -> str:
    """The name of the stream of the recipe's method at ``index`` (0 = first written)."""
    check_int("index", index, low=0)
    return f"method-{index}"


def seed_of(run_seed: int, stream: str) -> int:
    """A 63-bit seed for ``stream`` of the run seeded ``run_seed`` (sha256 of both)."""
    check_int("run_seed", run_seed, low=0)
    text = f"reglab-run-stream/{run_seed}/{stream!s}".encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "big") >> 1


def generator(run_seed: int, stream: str) -> torch.Generator:
    """A fresh CPU ``torch.Generator`` seeded for ``stream`` of the run seeded ``run_seed``."""
    return torch.Generator().manual_seed(seed_of(run_seed, stream))
