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
sharpness              (optional) top eigenvalue of the Hessian of the training loss (cross-entropy on the
                       labels as trained on) over the first ``SHARPNESS_EXAMPLES`` training
                       examples, by ``SHARPNESS_ITERATIONS`` power iterations on Hessian-vector
                       products (``reglab.sharpness``; start drawn from the run's ``sharpness``
                       stream); the largest-magnitude eigenvalue, so negative away from a minimum
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
from collections.abc import Sequence
from enum import StrEnum

import torch
import torch.nn.functional as F
from torch import nn

from reglab.bench import streams
from reglab.bench.datasets import Split
from reglab.metrics.effective_rank import effective_rank
from reglab.metrics.sharpness import sharpness

NOISE = 0.5  # noise standard deviation, in units of the training inputs' standard deviation
NOISE_STREAM = "eval-noise"
JACOBIAN_EXAMPLES = 256  # bounds the Jacobian's cost and memory on large test sets
SHARPNESS_EXAMPLES = 256  # a fixed training subset: the first examples of the run's split
SHARPNESS_ITERATIONS = 20
SHARPNESS_STREAM = "sharpness"


class OptionalMeasure(StrEnum):
    """Costly measures, computed only for runs whose ``budget.measures`` names them (a claim that
    checks one adds it to its runs' budget)."""

    SHARPNESS = "sharpness"


OPTIONAL_MEASURES = tuple(m.value for m in OptionalMeasure)
FINAL_METRICS = (
    "feature_rank",
    "zero_activations",
    "jacobian_norm",
    "noisy_test_acc",
    "zero_rows",
    "zero_weights",
    "sharpness",
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


def train_sharpness(model: nn.Module, x: torch.Tensor, y: torch.Tensor, seed: int) -> float:
    """Top Hessian eigenvalue of the cross-entropy on the first ``SHARPNESS_EXAMPLES`` of (x, y),
    in the model's current mode; NaN if the loss is not finite or has no second derivative
    through the model (a parameter the loss does not use: autograd refuses the gradient)."""
    n = SHARPNESS_EXAMPLES
    gen = streams.generator(seed, SHARPNESS_STREAM)
    try:
        value = sharpness(
            model, F.cross_entropy, (x[:n], y[:n]), iterations=SHARPNESS_ITERATIONS, generator=gen
        ).item()
    except RuntimeError:  # a diagnostic never fails the run it measures
        return math.nan
    return value if math.isfinite(value) else math.nan


def final_measures(
    model: nn.Module,
    split: Split,
    x_train: torch.Tensor,
    x_test: torch.Tensor,
    seed: int,
    optional: Sequence[str] = (),
) -> dict[str, float]:
    """The measures of the table above, in eval mode (the model's mode is restored); those of
    ``OPTIONAL_MEASURES`` only when ``optional`` names them (a run's ``budget.measures``)."""
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
        if "sharpness" in optional:
            out["sharpness"] = train_sharpness(model, x_train, split.y_train, seed)
    finally:
        model.train(was_training)
    return out
