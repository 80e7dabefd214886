"""Measures taken once, at the end of a run, on the test set and the weights (eval mode).

=====================  =======================================================================
feature_rank           effective rank (RankMe, ``reglab.effective_rank``) of the penultimate
                       features: the input of the model's head (its last ``nn.Linear``) on the
                       test set
zero_activations       fraction of exactly-zero entries of those features on the test set
jacobian_norm          mean over the first ``JACOBIAN_EXAMPLES`` test examples of ‖∂z/∂x‖_F, z
                       the logits (exact, one backward pass a class); NaN for integer inputs
noisy_test_acc         test accuracy with additive Gaussian noise of standard deviation
                       ``NOISE`` × the training inputs' standard deviation (drawn from the
                       run's own ``eval-noise`` stream); NaN for integer inputs
zero_rows              fraction of exactly-zero rows (output units: neurons, filters) over the
                       weights of every ``nn.Linear`` and conv layer except the head
zero_weights           fraction of exactly-zero entries of those same weights
=====================  =======================================================================

Cost, once per run (digits, 797 test images, one thread, machine loaded about 5×, with the
Jacobian over 1000 examples): 165 ms for the MLP 64-256-256-10 (one ``evaluate`` 22 ms; a
1000-step run about 10-20 s), 2.1 s for the CNN (``evaluate`` 0.5 s), the Jacobian's backward
passes most of it; the Jacobian now takes 256 examples, so a few percent of a run at most, and
they are always computed.

>>> from torch import nn
>>> model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 2))
>>> with torch.no_grad():
...     model[0].weight[1] = 0.0
>>> weight_zeros(model)
{'zero_rows': 0.3333333333333333, 'zero_weights': 0.3333333333333333}
"""

from __future__ import annotations

import math

import torch
from torch import nn

from reglab.bench import streams
from reglab.bench.datasets import Split
from reglab.metrics.effective_rank import effective_rank

NOISE = 0.5  # noise standard deviation, in units of the training inputs' standard deviation
NOISE_STREAM = "eval-noise"
JACOBIAN_EXAMPLES = 256  # bounds the Jacobian's cost and memory on large test sets
FINAL_METRICS = (
    "feature_rank",
    "zero_activations",
    "jacobian_norm",
    "noisy_test_acc",
    "zero_rows",
    "zero_weights",
)


def _head(model: nn.Module) -> nn.Linear | None:
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    return linears[-1] if linears else None


def penultimate(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits, the head's input features flattened to (N, d)) of ``model`` on ``x``."""
    head, seen = _head(model), []
    if head is None:
        raise ValueError("the model has no nn.Linear head whose input could be measured")
    handle = head.register_forward_pre_hook(lambda mod, args: seen.append(args[0]))
    try:
        logits = model(x)
    finally:
        handle.remove()
    return logits, seen[-1].reshape(len(x), -1)


def weight_zeros(model: nn.Module) -> dict[str, float]:
    """Fractions of exactly-zero rows and entries of the linear and conv weights but the head's."""
    head = _head(model)
    weights = [
        m.weight
        for m in model.modules()
        if isinstance(m, (nn.Linear, nn.modules.conv._ConvNd)) and m is not head
    ]
    if not weights:
        return {"zero_rows": math.nan, "zero_weights": math.nan}
    rows = [w.detach().reshape(w.shape[0], -1) for w in weights]
    zero_rows = sum(int((r == 0).all(1).sum()) for r in rows)
    zeros = sum(int((r == 0).sum()) for r in rows)
    return {
        "zero_rows": zero_rows / sum(r.shape[0] for r in rows),
        "zero_weights": zeros / sum(r.numel() for r in rows),
    }


def jacobian_norm(model: nn.Module, x: torch.Tensor) -> float:
    """Mean over examples of the Frobenius norm of d logits / d input (exact, eval mode)."""
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        logits = model(x)
        squares = torch.zeros(len(x), dtype=torch.float64)
        for k in range(logits.shape[1]):
            (g,) = torch.autograd.grad(logits[:, k].sum(), x, retain_graph=k + 1 < logits.shape[1])
            squares += g.reshape(len(x), -1).double().square().sum(1)
    return squares.sqrt().mean().item()


def final_measures(
    model: nn.Module, split: Split, x_train: torch.Tensor, x_test: torch.Tensor, seed: int
) -> dict[str, float]:
    """The measures of the table above, in eval mode (the model's mode is restored)."""
    was_training = model.training
    model.eval()
    try:
        out = weight_zeros(model)
        with torch.no_grad():
            z = penultimate(model, x_test)[1] if _head(model) is not None else x_test[:0]
        z = z.double().reshape(len(z), -1)
        out["feature_rank"] = (
            effective_rank(z).item()
            if z.numel() and torch.isfinite(z).all() and z.abs().sum() > 0
            else math.nan
        )
        out["zero_activations"] = (z == 0).double().mean().item() if z.numel() else math.nan
        if x_test.is_floating_point():
            out["jacobian_norm"] = jacobian_norm(model, x_test[:JACOBIAN_EXAMPLES])
            gen = streams.generator(seed, NOISE_STREAM)
            noise = torch.randn(x_test.shape, generator=gen, dtype=torch.float64)
            sigma = NOISE * x_train.double().std().item()
            with torch.no_grad():
                noisy = model((x_test.double() + sigma * noise).to(x_test.dtype))
            out["noisy_test_acc"] = (noisy.argmax(1) == split.y_test).double().mean().item()
        else:
            out["jacobian_norm"] = out["noisy_test_acc"] = math.nan
    finally:
        model.train(was_training)
    return out
