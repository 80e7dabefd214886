"""Bilevel problems for HOAG: L2-logistic regression, ridge, kernel ridge, and their K-fold stack.

Each builder returns a ``BilevelProblem``: an inner loss h(w, θ) whose minimizer is the fitted
model at strength λ = exp(θ), an outer (validation) loss g(w, θ), starting parameters and the
starting log-strength θ, all in float64.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F

from reglab.tune._implicit import Loss

D = torch.float64


class BilevelProblem(NamedTuple):
    """``inner_loss(params, hparams)``, ``outer_loss(params, hparams)``, a start, and how many
    models one inner solve fits (``fits``: the number of folds for a stacked problem)."""

    inner_loss: Loss
    outer_loss: Loss
    params: list[torch.Tensor]
    hparams: list[torch.Tensor]
    fits: int = 1


def _f64(*tensors: torch.Tensor) -> list[torch.Tensor]:
    return [torch.as_tensor(t).to(D) if torch.as_tensor(t).is_floating_point()
            else torch.as_tensor(t) for t in tensors]


def l2_logistic(
    x: torch.Tensor, y: torch.Tensor, x_val: torch.Tensor, y_val: torch.Tensor,
    log_strength: float = 0.0, num_classes: int | None = None,
) -> BilevelProblem:
    """Multinomial logistic regression: h = mean CE(xW + b, y) + ½ e^θ ‖W‖², intercept unpenalized.

    λ = e^θ relates to scikit-learn's C (which multiplies the summed loss) by λ = 1 / (C · n).
    """
    x, x_val = _f64(x, x_val)
    y, y_val = torch.as_tensor(y).long(), torch.as_tensor(y_val).long()
    k = num_classes or int(max(int(y.max()), int(y_val.max())) + 1)

    def inner(p: list[torch.Tensor], h: list[torch.Tensor]) -> torch.Tensor:
        return F.cross_entropy(x @ p[0] + p[1], y) + 0.5 * h[0].exp() * (p[0] ** 2).sum()

    def outer(p: list[torch.Tensor], h: list[torch.Tensor]) -> torch.Tensor:
        return F.cross_entropy(x_val @ p[0] + p[1], y_val)

    start = [torch.zeros(x.shape[1], k, dtype=D), torch.zeros(k, dtype=D)]
    return BilevelProblem(inner, outer, start, [torch.tensor(float(log_strength), dtype=D)])


def ridge(
    x: torch.Tensor, y: torch.Tensor, x_val: torch.Tensor, y_val: torch.Tensor,
    log_strength: float = 0.0,
) -> BilevelProblem:
    """Ridge regression: h = ½ mean (xw + b − y)² + ½ e^θ ‖w‖², g = ½ mean squared validation error."""
    x, y, x_val, y_val = _f64(x, y, x_val, y_val)

    def inner(p: list[torch.Tensor], h: list[torch.Tensor]) -> torch.Tensor:
        return 0.5 * ((x @ p[0] + p[1] - y) ** 2).mean() + 0.5 * h[0].exp() * (p[0] ** 2).sum()

    def outer(p: list[torch.Tensor], h: list[torch.Tensor]) -> torch.Tensor:
        return 0.5 * ((x_val @ p[0] + p[1] - y_val) ** 2).mean()

    start = [torch.zeros(x.shape[1], dtype=D), torch.zeros((), dtype=D)]
    return BilevelProblem(inner, outer, start, [torch.tensor(float(log_strength), dtype=D)])


def kernel_ridge(
    kernel: torch.Tensor, y: torch.Tensor, kernel_val: torch.Tensor, y_val: torch.Tensor,
    log_strength: float = 0.0,
) -> BilevelProblem:
    """Kernel ridge in its dual: h = ½ αᵀ(K + e^θ I)α − αᵀy, so α* = (K + λI)⁻¹ y; predictions
    on validation points are ``kernel_val @ α`` (``kernel_val``: validation × training)."""
    kernel, y, kernel_val, y_val = _f64(kernel, y, kernel_val, y_val)

    def inner(p: list[torch.Tensor], h: list[torch.Tensor]) -> torch.Tensor:
        a = p[0]
        return 0.5 * a @ (kernel @ a) + 0.5 * h[0].exp() * (a @ a) - a @ y

    def outer(p: list[torch.Tensor], h: list[torch.Tensor]) -> torch.Tensor:
        return 0.5 * ((kernel_val @ p[0] - y_val) ** 2).mean()

    start = [torch.zeros(kernel.shape[0], dtype=D)]
    return BilevelProblem(inner, outer, start, [torch.tensor(float(log_strength), dtype=D)])


def cross_validated(problems: Sequence[BilevelProblem]) -> BilevelProblem:
    """Stack K problems sharing one hyperparameter: h = Σ_k h_k (separable, so each fold keeps
    its own minimizer), g = mean_k g_k (the K-fold validation loss); ``fits`` = Σ fits."""
    problems = list(problems)
    if not problems:
        raise ValueError("problems must hold at least one BilevelProblem, got none")
    cuts = [0]
    for prob in problems:
        cuts.append(cuts[-1] + len(prob.params))

    def parts(p: list[torch.Tensor]) -> list[list[torch.Tensor]]:
        return [p[a:b] for a, b in zip(cuts, cuts[1:])]

    def inner(p: list[torch.Tensor], h: list[torch.Tensor]) -> torch.Tensor:
        return sum(prob.inner_loss(q, h) for prob, q in zip(problems, parts(p)))  # type: ignore[return-value]

    def outer(p: list[torch.Tensor], h: list[torch.Tensor]) -> torch.Tensor:
        vals = [prob.outer_loss(q, h) for prob, q in zip(problems, parts(p))]
        return torch.stack(vals).mean()

    params = [t for prob in problems for t in prob.params]
    return BilevelProblem(inner, outer, params, problems[0].hparams,
                          sum(prob.fits for prob in problems))
