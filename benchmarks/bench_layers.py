"""Overhead of Mixout and MultiSampleDropout on a forward + backward of a small transformer-like head.

The model: tokens (B=32, T=32, d=128) through a transformer-style MLP block (d -> 4d -> d, GELU,
residual, LayerNorm), mean-pooled, then a classifier head (d -> 4d -> 10). Ratios, one thread:
- Mixout (p=0.1 on every Linear) / the same model with plain Linear layers;
- MultiSampleDropout (K=8, p=0.5) on the head / one dropout sample (nn.Dropout + head);
- our batched K samples / K separate head calls (a Python loop), same masks' distribution.

Run: ``.venv/bin/python -m benchmarks.bench_layers``; writes ``benchmarks/results/layers.json``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

import reglab as rl
from benchmarks._timing import median_times, report, save

D, B, T, K = 128, 32, 32, 8


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(D, 4 * D), nn.GELU(), nn.Linear(4 * D, D))
        self.norm = nn.LayerNorm(D)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x + self.mlp(x))


class Model(nn.Module):
    def __init__(self, head: nn.Module) -> None:
        super().__init__()
        self.block, self.head = Block(), head

    def forward(self, x: torch.Tensor):
        return self.head(self.block(x).mean(1))


def classifier() -> nn.Module:
    return nn.Sequential(nn.Linear(D, 4 * D), nn.GELU(), nn.Linear(4 * D, 10))


class LoopedSamples(nn.Module):
    """K dropout samples by K head calls: the unbatched baseline."""

    def __init__(self, head: nn.Module) -> None:
        super().__init__()
        self.head = head

    def forward(self, h: torch.Tensor) -> list[torch.Tensor]:
        return [self.head(F.dropout(h, 0.5)) for _ in range(K)]


def train_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> Callable[[], None]:
    def step() -> None:
        model.zero_grad()
        out = model(x)
        if isinstance(out, (list, tuple)):
            loss = torch.stack([F.cross_entropy(o, y) for o in out]).mean()
        else:
            loss = F.cross_entropy(out, y)
        loss.backward()

    return step


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    x, y = torch.randn(B, T, D), torch.randint(0, 10, (B,))
    plain = Model(classifier())
    mixout = rl.apply_mixout(copy.deepcopy(plain), p=0.1)
    single = Model(nn.Sequential(nn.Dropout(0.5), copy.deepcopy(plain.head)))
    multi = Model(rl.MultiSampleDropout(copy.deepcopy(plain.head), p=0.5, samples=K))
    looped = Model(LoopedSamples(copy.deepcopy(plain.head)))
    for m in (single, multi, looped):
        m.block.load_state_dict(plain.block.state_dict())
    t = median_times({name: train_step(m, x, y) for name, m in (
        ("plain", plain), ("mixout", mixout), ("single", single), ("multi", multi), ("looped", looped))},
        repeats=30, warmup=3)
    rows = [
        {"benchmark": "Mixout(p=0.1) fwd+bwd / plain Linear fwd+bwd", "ratio": t["mixout"] / t["plain"]},
        {"benchmark": f"MultiSampleDropout(K={K}) fwd+bwd / one dropout sample", "ratio": t["multi"] / t["single"]},
        {"benchmark": f"MultiSampleDropout(K={K}) batched / {K} looped head calls", "ratio": t["multi"] / t["looped"]},
        {"benchmark": "plain fwd+bwd (ms)", "ratio": t["plain"] * 1e3},
    ]
    report(rows)
    save("layers", rows)


if __name__ == "__main__":
    main()
