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
