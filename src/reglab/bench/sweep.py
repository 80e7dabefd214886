"""Run a set of configs against the store: skip finished keys, check the rest, run, write each.

``run_sweep`` de-duplicates configs by key, leaves out keys the store already holds as done or
diverged, builds each distinct arm once before anything trains (so a bad hyperparameter stops
the sweep at once, with the constructor's message), then runs the rest on the backend longest
first and writes every run the moment it ends. Killing the sweep at any point loses only the
runs in progress; starting it again runs exactly what is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from reglab.bench.backends import LocalBackend, RayBackend
from reglab.bench.runs import RunConfig
from reglab.bench.store import Store
from reglab.bench.train import RunResult, prepare

# Rough milliseconds a step of each task's default model takes, to start long runs first.
_STEP_COST = {"modular-addition": 25.0, "mnist1d": 4.0, "noisy-mnist1d": 4.0}


@dataclass
class SweepSummary:
    """What a sweep did: runs skipped (already stored), runs made, and their statuses."""

    skipped: int = 0  # already in the store
    ran: int = 0
    by_status: dict[str, int] = field(default_factory=dict)


def check_configs(configs: Sequence[RunConfig], cache_dir: Path | None) -> None:
    """Build data, model and training step of one run per arm; a failure raises ValueError."""
    seen: set[str] = set()
    for config in configs:
        if config.arm_key in seen:
            continue
        seen.add(config.arm_key)
        with torch.random.fork_rng():
            try:
                prepare(config, cache_dir)
            except (ValueError, TypeError) as e:
                raise ValueError(f"recipe {config.recipe!r} on task {config.task!r}: {e}") from None


def run_sweep(
    configs: Sequence[RunConfig],
    store: Store,
    backend: LocalBackend | RayBackend,
    cache_dir: Path | None = None,
    on_result: Callable[[RunConfig, RunResult], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> SweepSummary:
    """Run what the store lacks of ``configs``; see the module docstring."""
    unique = {c.key: c for c in configs}
    finished = store.finished_keys()
    todo = [c for k, c in unique.items() if k not in finished]
    summary = SweepSummary(skipped=len(unique) - len(todo))
    if on_start is not None:
        on_start(len(todo))
    check_configs(todo, cache_dir)
    todo.sort(key=lambda c: -c.steps * _STEP_COST.get(c.task, 3.0))
    cache = str(cache_dir.resolve()) if cache_dir is not None else None
    for config, result in backend.map(todo, cache):
        store.write(config, result)
        summary.ran += 1
        summary.by_status[str(result.status)] = summary.by_status.get(str(result.status), 0) + 1
        if on_result is not None:
            on_result(config, result)
    return summary
