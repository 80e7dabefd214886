"""Shared set-up of the integration parity tests: model, data, methods and the plain Recipe loop.

Every trainer is checked against ``reglab.Recipe`` in a plain loop: same model, data, seed and
methods, float64, 20 optimizer steps. With gradient accumulation k the trainer sees micro-batches
of size B/k in order and the plain loop one batch of size B (their mean losses are equal).
"""

from __future__ import annotations

import torch
from torch import nn

import reglab as rl

N, D, K = 40, 4, 3
BATCH = 8
STEPS = 20


def data() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(N, D, generator=g, dtype=torch.float64)
    y = torch.randint(0, K, (N,), generator=g)
    return x, y, torch.arange(N)


def net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(D, 8), nn.Tanh(), nn.Linear(8, K)).double()


def methods(case: str, model: nn.Module, seed: int = 0) -> list[object]:
    """The reglab methods of a case, built on ``model`` (fresh generators each call; ``seed``
    shifts their seeds, for a run whose state must come from a checkpoint)."""
    if case == "l2-mixup-sam":
        return [rl.L2(model, strength=1e-2),
                rl.Mixup(alpha=0.4, num_classes=K, generator=torch.Generator().manual_seed(1 + seed))]
    if case == "l2-gradnorm":
        return [rl.L2(model, strength=1e-2)]
    if case == "elr-l2-shrink":
        return [rl.ELR(num_examples=N, num_classes=K, strength=3.0), rl.L2(model, strength=1e-2),
                rl.ShrinkPerturb(0.99, 1e-3, model, generator=torch.Generator().manual_seed(2 + seed))]
    raise ValueError(case)


def optimizer(case: str, model: nn.Module) -> torch.optim.Optimizer:
    inner = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    if case == "l2-gradnorm":  # double backprop: the trainer's backward must keep the graph
        return rl.GradientNormPenalty(inner, strength=0.1, method="double-backprop")
    return rl.SAM(inner, rho=0.05) if case == "l2-mixup-sam" else inner


CASES = ["l2-mixup-sam", "elr-l2-shrink"]
#: (case, gradient accumulation) pairs of the parity tests
PARITY = [("l2-mixup-sam", 1), ("elr-l2-shrink", 1), ("elr-l2-shrink", 4), ("l2-gradnorm", 1)]


def plain(case: str, steps: int = STEPS) -> nn.Module:
    """The reference: ``Recipe.step`` on consecutive batches of ``BATCH`` examples, in order."""
    model = net()
    recipe = rl.Recipe([*methods(case, model), optimizer(case, model)])
    x, y, index = data()
    for step in range(steps):
        lo = (step * BATCH) % N
        recipe.step(model, x[lo:lo + BATCH], y[lo:lo + BATCH], index=index[lo:lo + BATCH])
    return model


def assert_same_parameters(a: nn.Module, b: nn.Module, atol: float = 1e-10) -> None:
    pa, pb = list(a.parameters()), list(b.parameters())
    assert len(pa) == len(pb)
    for p, q in zip(pa, pb):
        torch.testing.assert_close(p, q, rtol=0, atol=atol)
