"""Step time with continual backprop (and shrink & perturb) as a ratio to the plain step, and
bit-flipping's many seeds trained as one vectorized run against the same seeds one by one.

One step = forward + backward + ``torch.optim.SGD`` step on an MLP 64-256-256-10 (batch 128) and
a small CNN, one thread; the method runs as a post-step hook. The ratio (method step ÷ plain
step, above 1: the method costs that factor) is the median over back-to-back pairs of steps,
alternating which side runs first, in thread CPU time (``_timing.paired_ratios``), which keeps
machine drift and other processes' load out of it; with the quartiles.

Bit-flipping (``reglab.bench.tasks.bit_flipping``): ``train_seeds`` over S seeds (stacked
weights, one batched matmul a layer) ÷ S runs of ``train`` one seed at a time, each over the same
examples (below 1: the vectorized run is faster); thread CPU time, one measurement each.

Run: ``.venv/bin/python -m benchmarks.bench_continual [--pairs N] [--seeds S] [--examples N]``;
writes ``benchmarks/results/continual.json``.
"""

from __future__ import annotations

import argparse
import copy
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

import reglab as rl
from benchmarks._timing import paired_ratios, report, save


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


def bit_flipping_seeds(seeds: int, examples: int) -> dict[str, Any]:
    """``train_seeds`` over ``seeds`` seeds ÷ the same seeds trained one at a time."""
    from reglab.bench.recipes import load_recipe
    from reglab.bench.runs import Settings, resolve
    from reglab.bench.tasks import get_task

    task = get_task("bit-flipping")
    settings = Settings(data={"flip_every": max(examples // 20, 1)},
                        budget={"steps": examples, "eval_every": max(examples // 10, 1)})
    configs = [resolve("bit-flipping", load_recipe("none"), s, [settings]) for s in range(seeds)]
    start = time.thread_time()
    task.train_seeds(configs)
    together = time.thread_time() - start
    start = time.thread_time()
    for c in configs:
        task.train(c, None)
    alone = time.thread_time() - start
    return {"benchmark": f"bit-flipping train_seeds / one by one, {seeds} seeds x {examples} examples",
            "ratio": together / alone, "vectorized_s": together, "one_by_one_s": alone}


def main(pairs: int = 60, seeds: int = 30, examples: int = 2000) -> list[dict[str, Any]]:
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
            # peer / ours with peer = the method's step, ours = the plain step
            r = paired_ratios(stepper(base, x, y, hook), stepper(base, x, y, None), pairs=pairs, calls=5)
            rows.append({"benchmark": f"{name} step / plain SGD step, {net_name}", "ratio": r["ratio"],
                         "q1": r["q1"], "q3": r["q3"], "plain_ms": 1000 * r["ours"], "pairs": pairs})
    rows.append(bit_flipping_seeds(seeds, examples))
    report(rows)
    save("continual", rows)
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=60)
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--examples", type=int, default=2000)
    args = parser.parse_args()
    main(args.pairs, args.seeds, args.examples)
