"""Shared set-up of the integration parity tests: model, data, methods and the plain Recipe loop.

Every trainer is checked against ``reglab.Recipe`` in a plain loop: same model, data, seed and
methods, float64, 20 optimizer steps. With gradient accumulation k the trainer sees micro-batches
of size B/k in order and the plain loop one batch of size B (their mean losses are equal). When a
random transform meets accumulation (Mixup draws per micro-batch), the reference is written out
by hand instead (``plain_window``): each micro-batch transformed in order, then one optimizer step
(SAM's or AMP's, through its closure) on the mean loss over the window plus the penalties.
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
    if case == "l2-mixup-amp":
        return [rl.L2(model, strength=1e-2),
                rl.Mixup(alpha=0.4, num_classes=K, generator=torch.Generator().manual_seed(3 + seed))]
    if case in ("l2-gradnorm", "l2-sam"):
        return [rl.L2(model, strength=1e-2)]
    if case == "elr-l2-shrink":
        return [rl.ELR(num_examples=N, num_classes=K, strength=3.0), rl.L2(model, strength=1e-2),
                rl.ShrinkPerturb(0.99, 1e-3, model, generator=torch.Generator().manual_seed(2 + seed))]
    raise ValueError(case)


def optimizer(case: str, model: nn.Module) -> torch.optim.Optimizer:
    inner = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    if case == "l2-gradnorm":  # double backprop: the trainer's backward must keep the graph
        return rl.GradientNormPenalty(inner, strength=0.1, method="double-backprop")
    if case == "l2-mixup-amp":  # two ascent steps: the closure runs three times a step
        return rl.AMP(inner, epsilon=0.1, inner_steps=2, inner_lr=0.5)
    return rl.SAM(inner, rho=0.05) if case in ("l2-mixup-sam", "l2-sam") else inner


CASES = ["l2-mixup-sam", "elr-l2-shrink"]
#: (case, gradient accumulation) pairs of the parity tests
PARITY = [("l2-mixup-sam", 1), ("elr-l2-shrink", 1), ("elr-l2-shrink", 4), ("l2-gradnorm", 1),
          ("l2-mixup-sam", 4), ("l2-mixup-amp", 4), ("l2-gradnorm", 4)]
#: cases whose batches are transformed at random: with accumulation, ``plain_window`` is the reference
RANDOM_TRANSFORM = {"l2-mixup-sam", "l2-mixup-amp"}


def reference(case: str, accumulate: int) -> nn.Module:
    """The plain loop a trainer with gradient accumulation ``accumulate`` must equal."""
    if accumulate > 1 and case in RANDOM_TRANSFORM:
        return plain_window(case, accumulate)
    return plain(case)


def recipe_loop(model: nn.Module, *methods: object, steps: int = STEPS) -> nn.Module:
    """``Recipe(methods).step`` on consecutive batches of ``BATCH`` examples, in order; returns
    ``model`` trained: the plain loop every trainer is compared with."""
    recipe = rl.Recipe(list(methods))
    x, y, index = data()
    for step in range(steps):
        lo = (step * BATCH) % N
        recipe.step(model, x[lo:lo + BATCH], y[lo:lo + BATCH], index=index[lo:lo + BATCH])
    return model


def plain(case: str, steps: int = STEPS) -> nn.Module:
    """The reference: ``Recipe.step`` on consecutive batches of ``BATCH`` examples, in order."""
    model = net()
    return recipe_loop(model, *methods(case, model), optimizer(case, model), steps=steps)


def plain_window(case: str, accumulate: int, steps: int = STEPS) -> nn.Module:
    """The reference under accumulation, by hand: the ``accumulate`` micro-batches of a step are
    transformed in order (one transform call each, as a trainer makes them), then one optimizer
    step whose closure back-propagates the mean of their losses plus the penalties. SAM and AMP
    evaluate that closure at the perturbed weights on the same transformed micro-batches."""
    model = net()
    recipe = rl.Recipe([*methods(case, model), optimizer(case, model)])
    x, y, index = data()
    micro = BATCH // accumulate
    for step in range(steps):
        window = []
        for j in range(accumulate):
            lo = (step * BATCH + j * micro) % N
            xb, yb = x[lo:lo + micro], y[lo:lo + micro]
            for transform in recipe.transforms:
                xb, yb = transform(xb, yb)
            window.append((xb, yb, index[lo:lo + micro]))

        def closure(window: list = window) -> torch.Tensor:
            recipe.optimizer.zero_grad()
            losses = [recipe.loss(model(xb), yb, *([ib] if recipe.needs_index else [])) for xb, yb, ib in window]
            loss = sum(losses) / accumulate
            for penalty in recipe.penalties:
                loss = loss + penalty()
            loss.backward(create_graph=recipe.create_graph)
            return loss

        if recipe.needs_closure:
            recipe.optimizer.step(closure)
        else:
            closure()
            recipe.optimizer.step()
    return model


def assert_same_parameters(a: nn.Module, b: nn.Module, atol: float = 1e-10) -> None:
    pa, pb = list(a.parameters()), list(b.parameters())
    assert len(pa) == len(pb)
    for p, q in zip(pa, pb):
        torch.testing.assert_close(p, q, rtol=0, atol=atol)
