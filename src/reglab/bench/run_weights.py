"""The final weights of a run, kept beside the results store so claims can combine models.

A task with ``keep_weights`` (the fine-tuning tasks) has each run that ends ``done`` save its
model's ``state_dict()`` to ``<results>/cache/weights/<run key>.pt`` (one small file a run;
``reglab bench`` and ``reglab reproduce`` pass ``<results>/cache`` as the cache folder). The
file is written by the worker, atomically, before the run is written to the store, so a stored
run made by this code always has its weights; a killed sweep leaves at most an unused file
that its rerun replaces. A stale run (made by other code) that is run again overwrites its
file. ``reglab.bench.merged_arms`` reads them to evaluate model soups and DARE merges.

>>> import tempfile, torch
>>> folder = Path(tempfile.mkdtemp())
>>> save_weights(folder, "abc", torch.nn.Linear(2, 1))
>>> sorted(load_weights(folder, "abc"))
['bias', 'weight']
>>> load_weights(folder, "missing") is None
True
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

StateDict = dict[str, Any]


def weights_path(cache_dir: Path, key: str) -> Path:
    """Where the run keyed ``key`` keeps its final weights."""
    return Path(cache_dir) / "weights" / f"{key}.pt"


def save_weights(cache_dir: Path, key: str, model: nn.Module) -> None:
    """Save ``model``'s state dict (detached CPU copies) for run ``key``, atomically."""
    path = weights_path(cache_dir, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {  # tensors as CPU copies; other entries (a layer's generator state) as they are
        k: v.detach().to("cpu", copy=True) if isinstance(v, torch.Tensor) else copy.deepcopy(v)
        for k, v in model.state_dict().items()
    }
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)  # a reader never sees a half-written file


def load_weights(cache_dir: Path, key: str) -> StateDict | None:
    """The final weights of run ``key``, or None when none were kept."""
    path = weights_path(cache_dir, key)
    if not path.exists():
        return None
    return torch.load(path, map_location="cpu", weights_only=True)
