"""Hessian trace by Hutchinson's estimator: the mean of vᵀHv over random Rademacher vectors v.

Equation::

    tr(H) = E_v[vᵀ H v],  v_i ∈ {−1, +1} uniformly;   estimate = (1/S) Σ_{s=1..S} v_sᵀ H v_s
    H = ∇²_θ L(θ),  L(θ) = loss_fn(model(x), y)  over the model's trainable parameters θ

Unbiased, with variance 2 Σ_{i≠j} H_ij² / S: exact for a diagonal Hessian at any S.

Arguments:
    model: an ``nn.Module``; its parameters with ``requires_grad`` are θ (``model.eval()`` first
        for a deterministic loss).
    loss_fn: ``(output, y) -> scalar tensor``.
    batch: the pair ``(x, y)``.
    samples: number S of random vectors, an integer >= 1 (default 100); one Hessian-vector
        product each.
    generator: a ``torch.Generator`` for the Rademacher vectors (default: the global generator).

Returns:
    A scalar tensor (detached) in the parameters' dtype.

Example:
    >>> import torch, reglab as rl
    >>> class Quadratic(torch.nn.Module):          # L(w) = ½ wᵀ diag(1, 4, 9) w: tr(H) = 14
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.w = torch.nn.Parameter(torch.ones(3, dtype=torch.float64))
    ...     def forward(self, x):
    ...         return 0.5 * (x * self.w ** 2).sum()
    >>> x = torch.tensor([1.0, 4.0, 9.0], dtype=torch.float64)
    >>> float(rl.hessian_trace(Quadratic(), lambda out, y: out, (x, None), samples=3))
    14.0

Reference:
    Lei Wu, Weijie J. Su. The Implicit Regularization of Dynamical Stability in Stochastic
    Gradient Descent. ICML 2023. arXiv:2305.17490 (linearly stable SGD minima have
    tr(H) ≤ 2/η); M. F. Hutchinson, A stochastic estimator of the trace of the influence matrix
    for Laplacian smoothing splines, 1989.

Traps:
    - An estimate, not the exact trace: its standard error is about sqrt(2 Σ_{i≠j} H_ij² / S).
    - Rademacher vectors (not Gaussian) give the smaller variance; both are unbiased.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from reglab._core.registry import Family, Kind, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.validation import check_generator, check_int
from reglab.metrics._hvp import hvp, inner, loss_gradient
from reglab.metrics.sharpness import DYNAMICAL_STABILITY


def _sample(ctx: SampleContext) -> Sample:
    return Sample(
        kwargs={"samples": 4},
        inputs=(ctx.model, F.cross_entropy, (ctx.x, ctx.y)),
        invalid=({"samples": 0}, {"generator": "seed"}),
    )


@register(
    "hessian-trace",
    family=Family.DIAGNOSTIC,
    kind=Kind.METRIC,
    paper=DYNAMICAL_STABILITY,
    sample=_sample,
)
def hessian_trace(
    model: nn.Module,
    loss_fn: Callable[..., torch.Tensor],
    batch: tuple[torch.Tensor, torch.Tensor],
    samples: int = 100,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Hutchinson estimate of tr(H); see the module docstring (``reglab.card("hessian-trace")``)."""
    samples = check_int("samples", samples, low=1)
    generator = check_generator(generator)
    params, grads = loss_gradient(model, loss_fn, batch)
    total = torch.zeros((), dtype=params[0].dtype, device=params[0].device)
    for _ in range(samples):
        v = [
            (torch.randint(0, 2, p.shape, generator=generator) * 2 - 1).to(p.dtype).to(p.device)
            for p in params
        ]
        total = total + inner(v, hvp(params, grads, v))
    return (total / samples).detach()
