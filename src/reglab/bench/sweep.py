"""Run a set of configs against the store: skip finished keys, check the rest, run, write each.

``run_sweep`` de-duplicates configs by key, leaves out keys the store already holds as done or
diverged by the running code (runs made by other code are stale and run again, unless
``reuse_stale``), builds each distinct arm once before anything trains (so a bad hyperparameter
stops the sweep at once, with the constructor's message), then runs the rest on the backend
longest first and writes every run the moment it ends. Killing the sweep at any point loses
only the runs in progress; starting it again runs exactly what is missing.

Each run is claimed in the store right before it trains, so sweeps sharing a store split the
work: a run claimed by another live sweep is left to it, and once this sweep has nothing else
to do it waits for those runs (polling every ``poll_s`` seconds), taking over any whose sweep
died. On return or on an error, this process's unfinished claims are dropped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from reglab.bench.backends import LocalBackend, RayBackend
from reglab.bench.runs import RunConfig
from reglab.bench.store import Store
from reglab.bench.tasks import get_task
from reglab.bench.train import RunResult, prepare

# Rough milliseconds a step of each task's default model takes, to start long runs first.
_STEP_COST = {"modular-addition": 25.0, "mnist1d": 4.0, "noisy-mnist1d": 4.0}


@dataclass
class SweepSummary:
    """What a sweep did: runs skipped (already stored), runs made, and their statuses."""

    skipped: int = 0  # already in the store (stale ones included when they are kept)
    ran: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    stale: int = 0  # finished runs made by other code: run again, or kept with reuse_stale
    by_others: int = 0  # runs another sweep on the same store made meanwhile


def check_configs(configs: Sequence[RunConfig], cache_dir: Path | None) -> None:
    """Build data, model and training step of one run per arm; a failure raises ValueError."""
    seen: set[str] = set()
    for config in configs:
        if config.arm_key in seen:
            continue
        seen.add(config.arm_key)
        with torch.random.fork_rng():
            try:
                check = getattr(get_task(config.task), "check", None)  # tasks with their own loop
                (check or prepare)(config, cache_dir)
            except (ValueError, TypeError) as e:
                raise ValueError(f"recipe {config.recipe!r} on task {config.task!r}: {e}") from None


def run_sweep(
    configs: Sequence[RunConfig],
    store: Store,
    backend: LocalBackend | RayBackend,
    cache_dir: Path | None = None,
    on_result: Callable[[RunConfig, RunResult], None] | None = None,
    on_start: Callable[[int], None] | None = None,
    reuse_stale: bool = False,
    on_wait: Callable[[dict[str, int]], None] | None = None,
    poll_s: float = 1.0,
) -> SweepSummary:
    """Run what the store lacks of ``configs``; see the module docstring.

    ``on_wait(claims)`` is called (key -> pid) each time the sweep waits for runs that other
    sweeps are training."""
    unique = {c.key: c for c in configs}
    finished = store.finished_keys(include_stale=reuse_stale)
    todo = [c for k, c in unique.items() if k not in finished]
    summary = SweepSummary(
        skipped=len(unique) - len(todo), stale=len(store.stale_keys() & unique.keys())
    )
    if on_start is not None:
        on_start(len(todo))
    check_configs(todo, cache_dir)
    todo.sort(key=lambda c: -c.steps * _STEP_COST.get(c.task, 3.0))
    cache = str(cache_dir.resolve()) if cache_dir is not None else None
    attempted: set[str] = set()

    def claim(config: RunConfig) -> bool:
        return store.claim(config.key, include_stale=reuse_stale)

    try:
        while todo:
            for config, result in backend.map(todo, cache, claim):
                store.write(config, result)
                attempted.add(config.key)
                summary.ran += 1
                status = str(result.status)
                summary.by_status[status] = summary.by_status.get(status, 0) + 1
                if on_result is not None:
                    on_result(config, result)
            finished = store.finished_keys(include_stale=reuse_stale)
            rest = [c for c in todo if c.key not in attempted and c.key not in finished]
            summary.by_others += len(todo) - len(rest) - sum(c.key in attempted for c in todo)
            todo = rest
            held = store.claimed_by_others(c.key for c in todo)
            if held and len(held) == len(todo):  # all left are being trained elsewhere
                if on_wait is not None:
                    on_wait(held)
                time.sleep(poll_s)
    finally:
        store.release()
    return summary
