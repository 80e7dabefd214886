"""Activity penalties: training-step overhead, (step with the penalty) / (plain step).

A step is forward, cross-entropy (+ penalty), backward and an SGD step on a small MLP whose
256-wide hidden ReLU layer is hooked (for the Jacobian penalty: the whole model, one projection).
Run: ``.venv/bin/python -m benchmarks.bench_activity`` (writes benchmarks/results/activity.json).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

import reglab as rl
from benchmarks._timing import median_times, report, save


def _mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))


def _step(model: nn.Module, pen: nn.Module | None, x: torch.Tensor, y: torch.Tensor) -> Callable[[], None]:
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)

    def run() -> None:
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        if pen is not None:
            loss = loss + pen()
        loss.backward()
        opt.step()

    return run


def overhead(batch: int = 128) -> list[dict[str, Any]]:
    x, y = torch.randn(batch, 64), torch.randint(0, 10, (batch,))
    builders: dict[str, Callable[[nn.Module], nn.Module]] = {
        "activation-l1": lambda m: rl.ActivationL1(m, modules="3", strength=1e-4),
        "flops": lambda m: rl.FLOPS(m, modules="3", strength=1e-3),
        "vne": lambda m: rl.VNE(m, modules="3", strength=0.1),
        "coding-rate": lambda m: rl.CodingRate(m, modules="3", strength=0.1),
        "jacobian-norm (1 projection)": lambda m: rl.JacobianNorm(m, modules="", strength=0.01),
    }
    rows = []
    for name, build in builders.items():
        plain_model, pen_model = _mlp(), _mlp()
        pen = build(pen_model)
        t = median_times({"plain": _step(plain_model, None, x, y), "penalty": _step(pen_model, pen, x, y)},
                         repeats=30)
        pen.remove()
        rows.append({"benchmark": f"{name}: step with penalty / plain step (MLP, batch {batch})",
                     "ratio": t["penalty"] / t["plain"], "plain_us": round(t["plain"] * 1e6, 1),
                     "penalty_us": round(t["penalty"] * 1e6, 1)})
    return rows


def main() -> None:
    rows = overhead()
    report(rows)
    print(save("activity", rows))


if __name__ == "__main__":
    main()
