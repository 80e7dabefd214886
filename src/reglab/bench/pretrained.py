"""Pretrained starting points of the fine-tuning tasks: trained once, cached by their settings.

A fine-tuning task pretrains its model on a source split, then every arm and every seed of a
claim fine-tunes from those same weights. ``pretrained_state`` trains them (Adam with bias
correction, mini-batches) or reads them from ``cache_dir/pretrained/<key>.pt``, where the key is
a hash of everything that makes them: the model spec, the source data's settings, the
pretraining settings and the code fingerprint (weights made by other code are not reused).
Pretraining draws from its own seeded generators inside ``torch.random.fork_rng``, so whether the
weights came from the cache or were trained now, the run's own random streams are unchanged.

``load_start(model, state)`` copies every pretrained tensor into ``model`` except those of its
head (the last ``nn.Linear``), which keeps its fresh initialization: the target task has its
own classes.

>>> from reglab.bench.models import ModelSpec, build_model
>>> spec = ModelSpec(width=8, depth=1)
>>> src = torch.randn(40, 4), torch.randint(0, 3, (40,))
>>> build = lambda: build_model(spec, (4,), 3)
>>> state = pretrained_state(build, *src, Pretraining(steps=3, batch_size=8), key="k", cache_dir=None)
>>> model = build_model(spec, (4,), 3)
>>> load_start(model, state)
['classifier.bias', 'classifier.weight']
>>> torch.equal(model.features[1].weight, state["features.1.weight"])
True
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from reglab._core.validation import check_int, check_number
from reglab.bench.fingerprint import code_fingerprint
from reglab.bench.models import ModelSpec, build_model

StateDict = dict[str, torch.Tensor]


@dataclass(frozen=True)
class Pretraining:
    """steps >= 1 of Adam at lr > 0 on batches of batch_size >= 1; seed >= 0 (init and order)."""

    steps: int = 500
    lr: float = 1e-3
    batch_size: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        check_int("pretrain_steps", self.steps, low=1)
        check_number("pretrain_lr", self.lr, low=0, low_open=True)
        check_int("pretrain_batch_size", self.batch_size, low=1)
        check_int("pretrain_seed", self.seed, low=0)


def cache_key(*parts: Any) -> str:
    """sha256 (20 hex digits) of the JSON of ``parts`` and the code fingerprint."""

    text = json.dumps([code_fingerprint(), *parts], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _pretrain(
    build: Callable[[], nn.Module], x: torch.Tensor, y: torch.Tensor, settings: Pretraining
) -> StateDict:
    with torch.random.fork_rng(devices=[]):  # the caller's global stream is left as it was
        torch.manual_seed(settings.seed)
        model = build()
        order = torch.Generator().manual_seed(settings.seed + 1)
        opt = torch.optim.Adam(model.parameters(), lr=settings.lr)
        model.train()
        n, size = len(y), min(settings.batch_size, len(y))
        perm, pos = torch.randperm(n, generator=order), 0
        for _ in range(settings.steps):
            if pos + size > n:
                perm, pos = torch.randperm(n, generator=order), 0
            idx = perm[pos : pos + size]
            pos += size
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def pretrained_state(
    build: Callable[[], nn.Module],
    x: torch.Tensor,
    y: torch.Tensor,
    settings: Pretraining,
    key: str,
    cache_dir: Path | None,
) -> StateDict:
    """The weights of ``build()`` pretrained on (x, y), from the cache when ``key`` is there."""
    path = Path(cache_dir) / "pretrained" / f"{key}.pt" if cache_dir is not None else None
    if path is not None and path.exists():
        return torch.load(path, map_location="cpu", weights_only=True)
    state = _pretrain(build, x, y, settings)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        torch.save(state, tmp)
        os.replace(tmp, path)  # atomic: concurrent workers never read a half-written file
    return state


def start_from(
    model: nn.Module,
    spec: ModelSpec,
    name: str,
    x: torch.Tensor,
    y: torch.Tensor,
    settings: Pretraining,
    cache_dir: Path | None,
    *source: Any,
) -> None:
    """Load into ``model`` (all but its head) the weights of ``spec`` pretrained on the source
    (x, y) of task ``name``, cached under a key of the task, the model, the pretraining settings
    and ``source`` (the source data's own settings)."""
    key = cache_key(name, spec.as_dict(), asdict(settings), *source)
    classes = int(y.max()) + 1
    state = pretrained_state(
        lambda: build_model(spec, tuple(x.shape[1:]), classes),
        x.to(spec.torch_dtype),
        y,
        settings,
        key,
        cache_dir,
    )
    load_start(model, state)


def head_name(model: nn.Module) -> str:
    """The name of the model's head: its last ``nn.Linear`` in module order."""
    names = [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not names:
        raise ValueError("the model has no nn.Linear head to re-initialize")
    return names[-1]


def load_start(model: nn.Module, state: StateDict) -> list[str]:
    """Copy ``state`` into ``model`` except the head's tensors; return the keys left as they were."""
    head = head_name(model) + "."
    body = {k: v for k, v in state.items() if not k.startswith(head)}
    result = model.load_state_dict(body, strict=False)
    if result.unexpected_keys:
        raise ValueError(f"pretrained weights have keys the model lacks: {result.unexpected_keys}")
    kept = sorted(result.missing_keys)
    if any(not k.startswith(head) for k in kept):
        raise ValueError(f"pretrained weights lack keys of the model: {kept}")
    return kept
