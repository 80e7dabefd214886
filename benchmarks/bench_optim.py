"""Step time of the closure-evaluating optimizer wrappers, as a ratio to the plain inner optimizer.

One step = the closure (forward + backward) and the optimizer update, on a small MLP and a small
CNN, one thread. Goals: SAM <= 2.1 and gradient-norm penalty by finite differences <= 2.1 (the
floor is 2.0: two forward-backward passes); double backprop and AMP with N inner steps are
reported (AMP against its floor N + 1).

Each time is the smallest of several medians (rounds of interleaved repeats): on a CPU shared
with other jobs, a round hit by contention inflates the longer steps most, and the best round is
the closest to the steps' own cost.

Run: ``.venv/bin/python -m benchmarks.bench_optim``; writes ``benchmarks/results/optim.json``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

import reglab as rl
from benchmarks._timing import median_times, report, save


def mlp() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    return model, torch.randn(128, 64), torch.randint(0, 10, (128,))


def cnn() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    model = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),
        nn.Flatten(), nn.Linear(32 * 8 * 8, 10),
    )
    return model, torch.randn(64, 3, 16, 16), torch.randint(0, 10, (64,))


def stepper(
    base: nn.Module, x: torch.Tensor, y: torch.Tensor,
    wrap: Callable[[torch.optim.Optimizer], torch.optim.Optimizer] | None, create_graph: bool = False,
) -> Callable[[], Any]:
    """One training step of a private copy of ``base`` with SGD (wrapped or not)."""
    model = copy.deepcopy(base)
    inner = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    opt = inner if wrap is None else wrap(inner)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward(create_graph=create_graph)
        return loss

    if wrap is None:
        return lambda: (closure(), opt.step())
    return lambda: opt.step(closure)


def best_medians(fns: dict[str, Callable[[], Any]], rounds: int = 6, repeats: int = 10) -> dict[str, float]:
    """Per function, the smallest median over ``rounds`` rounds of ``median_times``."""
    runs = [median_times(fns, repeats=repeats, warmup=1 if r else 3) for r in range(rounds)]
    return {name: min(run[name] for run in runs) for name in fns}


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    rows = []
    for name, make in (("mlp", mlp), ("cnn", cnn)):
        base, x, y = make()
        fns = {
            "plain": stepper(base, x, y, None),
            "sam": stepper(base, x, y, lambda o: rl.SAM(o, rho=0.05)),
            "asam": stepper(base, x, y, lambda o: rl.SAM(o, rho=0.5, adaptive=True)),
            "gnp-fd": stepper(base, x, y, lambda o: rl.GradientNormPenalty(o, 0.01, "fd-ascent")),
            "gnp-db": stepper(base, x, y, lambda o: rl.GradientNormPenalty(o, 0.01, "double-backprop"), True),
            **{f"amp-{n}": stepper(base, x, y, lambda o, n=n: rl.AMP(o, 0.5, inner_steps=n)) for n in (1, 2, 3)},
        }
        t = best_medians(fns)
        plain = t["plain"]
        rows += [
            {"benchmark": f"{name}: SAM step / plain step", "ratio": t["sam"] / plain, "goal": "<= 2.1"},
            {"benchmark": f"{name}: ASAM step / plain step", "ratio": t["asam"] / plain, "goal": "<= 2.1"},
            {"benchmark": f"{name}: grad-norm FD step / plain step", "ratio": t["gnp-fd"] / plain, "goal": "<= 2.1"},
            {"benchmark": f"{name}: grad-norm double-backprop step / plain step", "ratio": t["gnp-db"] / plain,
             "goal": "report"},
            {"benchmark": f"{name}: grad-norm double-backprop / FD", "ratio": t["gnp-db"] / t["gnp-fd"],
             "goal": "report"},
        ]
        rows += [{"benchmark": f"{name}: AMP N={n} step / plain step", "ratio": t[f"amp-{n}"] / plain,
                  "goal": f"report (floor {n + 1})"} for n in (1, 2, 3)]
        rows.append({"benchmark": f"{name}: plain step (ms)", "ratio": plain * 1e3, "goal": "-"})
    report(rows)
    save("optim", rows)


if __name__ == "__main__":
    main()
