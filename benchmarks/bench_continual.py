"""Step time with continual backprop (and shrink & perturb) as a ratio to the plain step.

One step = forward + backward + ``torch.optim.SGD`` step on an MLP 64-256-256-10 (batch 128) and
a small CNN, one thread; the method runs as a post-step hook. Steps are timed in pairs A B A B
(plain, then with the method) and the ratio is the median of the per-pair ratios, which keeps
machine drift out of it.

Run: ``.venv/bin/python -m benchmarks.bench_continual``; writes ``benchmarks/results/continual.json``.
"""

from __future__ import annotations

import copy
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

import reglab as rl
from benchmarks._timing import report, save


def mlp() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    return model, torch.randn(128, 64), torch.randint(0, 10, (128,))


def cnn() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    model = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),
        nn.Flatten(), nn.Linear(32 * 8 * 8, 10),
    )
    return model, torch.randn(64, 3, 16, 16), torch.randint(0, 10, (64,))


def stepper(base: nn.Module, x: torch.Tensor, y: torch.Tensor,
            hook: Callable[[nn.Module], Any] | None) -> Callable[[], Any]:
    model = copy.deepcopy(base)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    if hook is not None:
        hook(model).attach(opt)

    def step() -> None:
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()

    return step


def paired_ratio(plain: Callable[[], Any], method: Callable[[], Any], pairs: int = 60, warmup: int = 5) -> float:
    for _ in range(warmup):
        plain()
        method()
    ratios = []
    for _ in range(pairs):
        t0 = time.perf_counter()
        plain()
        t1 = time.perf_counter()
        method()
        t2 = time.perf_counter()
        ratios.append((t2 - t1) / (t1 - t0))
    return statistics.median(ratios)


def main(pairs: int = 60) -> list[dict[str, Any]]:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    methods = {
        "continual-backprop (rate 1e-4, maturity 100)": lambda m: rl.ContinualBackprop(m),
        "continual-backprop (rate 1e-2, maturity 0)": lambda m: rl.ContinualBackprop(m, 1e-2, 0),
        "shrink-perturb (per step, gaussian)": lambda m: rl.ShrinkPerturb(0.9999, 1e-4, m),
    }
    rows = []
    for net_name, make in (("mlp", mlp), ("cnn", cnn)):
        base, x, y = make()
        for name, hook in methods.items():
            ratio = paired_ratio(stepper(base, x, y, None), stepper(base, x, y, hook), pairs)
            rows.append({"benchmark": f"{name} / plain SGD step, {net_name}", "ratio": ratio, "pairs": pairs})
    report(rows)
    save("continual", rows)
    return rows


if __name__ == "__main__":
    main()
