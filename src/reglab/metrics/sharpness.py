"""Sharpness: the top eigenvalue of the loss Hessian, by power iteration on Hessian-vector products.

Equation::

    v₀ ~ N(0, I) normalized;   v_{t+1} = H v_t / ‖H v_t‖;   λ̂ = v_Tᵀ H v_T
    H = ∇²_θ L(θ),  L(θ) = loss_fn(model(x), y)  over the model's trainable parameters θ

Each iteration costs one Hessian-vector product (a second backward pass through the gradient's
graph); the Hessian is never formed.

Arguments:
    model: an ``nn.Module``; its parameters with ``requires_grad`` are θ. Set ``model.eval()``
        first if dropout or batch-norm should be off.
    loss_fn: ``(output, y) -> scalar tensor``, e.g. ``torch.nn.functional.cross_entropy``.
    batch: the pair ``(x, y)`` the loss is evaluated on.
    iterations: number of power iterations, an integer >= 1 (default 20).
    generator: a ``torch.Generator`` for the starting vector (default: the global generator).

Returns:
    A scalar tensor λ̂ (detached) in the parameters' dtype.

Example:
    >>> import torch, reglab as rl
    >>> class Quadratic(torch.nn.Module):          # L(w) = ½ wᵀ diag(1, 4, 9) w
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.w = torch.nn.Parameter(torch.ones(3, dtype=torch.float64))
    ...     def forward(self, x):
    ...         return 0.5 * (x * self.w ** 2).sum()
    >>> x = torch.tensor([1.0, 4.0, 9.0], dtype=torch.float64)
    >>> g = torch.Generator().manual_seed(0)
    >>> round(float(rl.sharpness(Quadratic(), lambda out, y: out, (x, None), iterations=50, generator=g)), 4)
    9.0

Reference:
    Lei Wu, Weijie J. Su. The Implicit Regularization of Dynamical Stability in Stochastic
    Gradient Descent. ICML 2023. arXiv:2305.17490 (λ_max(H) ≤ 2/η for stable GD minima;
    measured by power iteration on Hessian-vector products).

Traps:
    - Power iteration converges to the eigenvalue of largest magnitude: away from a minimum the
      Hessian can have a larger negative eigenvalue, and the result is then negative.
    - Convergence is slow when the top two eigenvalues are close; raise ``iterations``.
    - The model's mode matters: in training mode dropout draws new masks in the forward pass
      (the Hessian of one stochastic loss), so call ``model.eval()`` for the deterministic one.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from reglab._core.registry import Family, Kind, Paper, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.validation import check_generator, check_int
from reglab.metrics._hvp import hvp, inner, loss_gradient

DYNAMICAL_STABILITY = Paper(
    authors="Lei Wu, Weijie J. Su",
    title="The Implicit Regularization of Dynamical Stability in Stochastic Gradient Descent",
    year=2023,
    arxiv="2305.17490",
)


def _sample(ctx: SampleContext) -> Sample:
    return Sample(
        kwargs={"iterations": 5},
        inputs=(ctx.model, F.cross_entropy, (ctx.x, ctx.y)),
        invalid=({"iterations": 0}, {"generator": 3}),
    )


@register(
    "sharpness",
    family=Family.DIAGNOSTIC,
    kind=Kind.METRIC,
    paper=DYNAMICAL_STABILITY,
    sample=_sample,
)
def sharpness(
    model: nn.Module,
    loss_fn: Callable[..., torch.Tensor],
    batch: tuple[torch.Tensor, torch.Tensor],
    iterations: int = 20,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Top Hessian eigenvalue of the loss; see the module docstring (``reglab.card("sharpness")``)."""
    iterations = check_int("iterations", iterations, low=1)
    generator = check_generator(generator)
    params, grads = loss_gradient(model, loss_fn, batch)
    v = [torch.randn(p.shape, generator=generator, dtype=p.dtype).to(p.device) for p in params]
    eigenvalue = torch.zeros((), dtype=params[0].dtype, device=params[0].device)
    for _ in range(iterations):
        norm = inner(v, v).sqrt()
        if norm == 0:  # H v = 0: the starting vector lies in the null space
            break
        v = [u / norm for u in v]
        hv = hvp(params, grads, v)
        eigenvalue = inner(v, hv)
        v = hv
    return eigenvalue.detach()
