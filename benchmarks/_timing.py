"""Timing helpers shared by the benchmarks: interleaved repeats, medians, ratios, JSON results."""

from __future__ import annotations

import json
import pathlib
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

RESULTS = pathlib.Path(__file__).resolve().parent / "results"


def median_times(fns: dict[str, Callable[[], Any]], repeats: int = 20, warmup: int = 3) -> dict[str, float]:
    """Median seconds per call of each function, measured interleaved so drift hits all alike."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in samples.items()}


def paired_ratios(
    peer: Callable[[], Any], ours: Callable[[], Any], pairs: int = 20, warmup: int = 3,
    calls: int = 1,
) -> dict[str, float]:
    """Median over back-to-back pairs of (peer time / ours time), with the quartiles of the ratios.

    Each pair times the two functions next to each other, alternating which runs first (A B,
    B A, ...), so load from other processes and order effects hit both sides of every ratio;
    the median of the per-pair ratios is then robust to the pairs a burst of load spoiled.
    Times are the calling thread's CPU time (``time.thread_time``): with one torch thread that
    is the work done, without the time the scheduler gave to other processes on a shared machine.
    Each side of a pair times ``calls`` consecutive calls after one untimed call, so a side that
    runs many times in a row (a training step) is timed in its own steady state: the allocator
    reuses its own buffers instead of the other side's. Above 1 means ours is faster. Also
    returns the median seconds per call of each side.
    """
    for _ in range(warmup):
        peer()
        ours()
    ratios, t_peer, t_ours = [], [], []
    for i in range(pairs):
        order = ((peer, t_peer), (ours, t_ours))
        for fn, sink in order if i % 2 == 0 else order[::-1]:
            if calls > 1:
                fn()
            start = time.thread_time()
            for _ in range(calls):
                fn()
            sink.append((time.thread_time() - start) / calls)
        ratios.append(t_peer[-1] / t_ours[-1])
    q1, median, q3 = statistics.quantiles(ratios, n=4)
    return {"ratio": median, "q1": q1, "q3": q3,
            "peer": statistics.median(t_peer), "ours": statistics.median(t_ours)}


def save(name: str, rows: list[dict[str, Any]]) -> pathlib.Path:
    """Write ``rows`` (each with at least ``benchmark`` and ``ratio``) to results/NAME.json."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    meta = {"torch": torch.__version__, "threads": torch.get_num_threads(),
            "machine": platform.machine(), "python": platform.python_version()}
    path.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    return path


def report(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        extra = ", ".join(f"{k}={v}" for k, v in row.items() if k not in ("benchmark", "ratio"))
        print(f"{row['benchmark']:<60} {row['ratio']:8.3f}  {extra}")
