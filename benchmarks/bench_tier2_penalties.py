"""Tier-2 parameter penalties (issue 15, family A): overhead of a training step with each method.

Rows: (step with the method) / (plain step) for group lasso, proximal group lasso, hyperspherical
energy (s = 2 and its half-space variant), norm loss and the weight compander, on the MLP
64-256-256-10 (batch 128) and a small CNN; each ratio is the median of per-pair ratios timed
A B A B (``_timing.paired_ratios``), one torch thread. Also block soft-thresholding vs a per-group
Python loop (the reference it is tested against).
Run: ``.venv/bin/python -m benchmarks.bench_tier2_penalties [pairs]`` (writes
benchmarks/results/tier2_penalties.json).
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

import reglab as rl
from benchmarks._timing import paired_ratios, report, save


def _mlp() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    return model, torch.randn(128, 64), torch.randint(0, 10, (128,))


def _cnn() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    model = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 8 * 8, 10),
    )
    return model, torch.randn(64, 3, 32, 32), torch.randint(0, 10, (64,))


def _step(model: nn.Module, x: torch.Tensor, y: torch.Tensor, opt: torch.optim.Optimizer,
          pen: nn.Module | None = None) -> Callable[[], None]:
    def run() -> None:
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        if pen is not None:
            loss = loss + pen()
        loss.backward()
        opt.step()
    return run


def overhead(pairs: int) -> list[dict[str, Any]]:
    rows = []
    for net, build in (("MLP 64-256-256-10, batch 128", _mlp), ("CNN 2 conv + linear, 64x3x32x32", _cnn)):
        torch.manual_seed(0)
        model, x, y = build()
        sgd = lambda m: torch.optim.SGD(m.parameters(), lr=1e-3, momentum=0.9)
        plain = _step(model, x, y, sgd(model))
        methods: dict[str, Callable[[], None]] = {
            "group-lasso (rows)": _step(model, x, y, sgd(model), rl.GroupLasso(model, 1e-4)),
            "hyperspherical-energy (s=2)": _step(model, x, y, sgd(model), rl.HypersphericalEnergy(model, 1e-4)),
            "hyperspherical-energy (s=2, half-space)":
                _step(model, x, y, sgd(model), rl.HypersphericalEnergy(model, 1e-4, half_space=True)),
            "norm-loss": _step(model, x, y, sgd(model), rl.NormLoss(model, 1e-4)),
            "proximal-group-lasso (rows)":
                _step(model, x, y, rl.ProximalGroupLasso(sgd(model), 1e-4, params=model)),
        }
        companded = rl.apply_weight_compander(copy.deepcopy(model))
        methods["weight-compander"] = _step(companded, x, y, sgd(companded))
        for name, fn in methods.items():
            r = paired_ratios(peer=fn, ours=plain, pairs=pairs, calls=3)
            rows.append({"benchmark": f"{net}: step with {name} / plain step", "ratio": round(r["ratio"], 3),
                         "q1": round(r["q1"], 3), "q3": round(r["q3"], 3), "goal": "report",
                         "plain_ms": round(r["ours"] * 1e3, 3)})
    return rows


def block_threshold_vs_loop(pairs: int) -> list[dict[str, Any]]:
    torch.manual_seed(0)
    params = [torch.randn(256, 256), torch.randn(32, 16, 3, 3), torch.randn(10, 256)]

    def loop() -> None:
        for p in params:
            for row in p:
                n = float(row.norm())
                row.mul_(max(0.0, 1 - 1e-9 / n) if n else 0.0)

    def fused() -> None:
        rl.functional.block_soft_threshold_(params, 1e-9 / 16)

    r = paired_ratios(peer=loop, ours=fused, pairs=pairs)
    return [{"benchmark": "block soft-threshold (rows, 3 tensors, 298 groups): per-group loop / ours",
             "ratio": round(r["ratio"], 2), "q1": round(r["q1"], 2), "q3": round(r["q3"], 2), "goal": "report",
             "ours_us": round(r["ours"] * 1e6, 1)}]


def main(pairs: int = 30) -> None:
    torch.set_num_threads(1)
    rows = overhead(pairs) + block_threshold_vs_loop(pairs)
    report(rows)
    print(f"results written to {save('tier2_penalties', rows)}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
