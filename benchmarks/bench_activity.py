"""Activity penalties: training-step overhead, (step with the penalty) / (plain step).

A step is forward, cross-entropy (+ penalty), backward and an SGD step on a small MLP whose
256-wide hidden ReLU layer is hooked (for the Jacobian penalty: the whole model, one projection).
Every registered activity penalty (``Kind.ACTIVITY``) is timed: the list comes from the registry,
so a new method is measured with its default arguments on that layer unless ``ARGS`` says more.
Run: ``.venv/bin/python -m benchmarks.bench_activity`` (writes benchmarks/results/activity.json);
``--smoke`` times 2 repeats of each, to check that every method runs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from benchmarks._timing import median_times, report, save
from reglab._core.registry import Kind, entries, get


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


# Arguments beyond the model; the rest are the method's defaults. Hooked: the second hidden ReLU.
ARGS: dict[str, dict[str, Any]] = {
    "activation-l1": {"modules": "3", "strength": 1e-4},
    "flops": {"modules": "3", "strength": 1e-3},
    "vne": {"modules": "3", "strength": 0.1},
    "coding-rate": {"modules": "3", "strength": 0.1},
    "jacobian-norm": {"modules": "", "strength": 0.01, "projections": 1},
    "kurtosis": {"modules": ["0", "2", "4"], "strength": 1.0},  # the paper's form: every layer's weights
    "isotropy": {"modules": "3", "strength": 0.1},
    "least-volume": {"modules": "3", "strength": 1e-3},
}
LABELS = {"jacobian-norm": "jacobian-norm (1 projection)", "kurtosis": "kurtosis (weights of 3 layers)"}


def activity_methods() -> list[str]:
    """Every registered activity penalty, by name."""
    return sorted(e.name for e in entries() if e.kind is Kind.ACTIVITY)


def builders() -> dict[str, Callable[[nn.Module], nn.Module]]:
    """One constructor a registered activity penalty, on the benchmark MLP."""
    out: dict[str, Callable[[nn.Module], nn.Module]] = {}
    for name in activity_methods():
        args = ARGS.get(name, {"modules": "3"})
        out[LABELS.get(name, name)] = lambda m, n=name, a=args: get(n).build(model=m, **a)
    return out


def overhead(batch: int = 128, repeats: int = 30) -> list[dict[str, Any]]:
    x, y = torch.randn(batch, 64), torch.randint(0, 10, (batch,))
    rows = []
    for name, build in builders().items():
        plain_model, pen_model = _mlp(), _mlp()
        pen = build(pen_model)
        t = median_times({"plain": _step(plain_model, None, x, y), "penalty": _step(pen_model, pen, x, y)},
                         repeats=repeats, warmup=min(3, repeats))
        pen.remove()
        rows.append({"benchmark": f"{name}: step with penalty / plain step (MLP, batch {batch})",
                     "ratio": t["penalty"] / t["plain"], "plain_us": round(t["plain"] * 1e6, 1),
                     "penalty_us": round(t["penalty"] * 1e6, 1)})
    return rows


def main(argv: list[str] | None = None) -> None:
    smoke = "--smoke" in (sys.argv[1:] if argv is None else argv)
    rows = overhead(repeats=2 if smoke else 30)
    report(rows)
    if not smoke:
        print(save("activity", rows))


if __name__ == "__main__":
    main()
