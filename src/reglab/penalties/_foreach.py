"""Fused element-wise norms over a list of tensors: one foreach pass forward, one backward.

``elementwise_norms(params, l1, l2)`` is ``l1·Σ_t ‖w_t‖₁ + l2·½ Σ_t ‖w_t‖²₂``. The forward runs
``torch._foreach_norm`` over the whole list; the backward writes ``g·(l1·sign(w) + l2·w)`` with
one or two ``torch._foreach_*`` calls instead of differentiating through the norms (the plain
autograd path divides by the norm and multiplies back, tensor by tensor). Under
``create_graph=True`` the backward switches to a formulation autograd can differentiate again, as
double-backprop regularizers need.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch


class _ElementwiseNorms(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, l1: float, l2: float, *params: torch.Tensor) -> torch.Tensor:
        ctx.weights = (l1, l2)
        ctx.save_for_backward(*params)
        terms = []
        if l1:
            terms.append(l1 * torch.stack(torch._foreach_norm(params, 1)).sum())
        if l2:
            terms.append((0.5 * l2) * torch.stack(torch._foreach_norm(params, 2)).square().sum())
        return terms[0] if len(terms) == 1 else terms[0] + terms[1]

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        l1, l2 = ctx.weights
        params = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True: keep every step differentiable
            return (None, None, *_differentiable_grads(params, grad, l1, l2))
        grads = torch._foreach_mul(params, grad * l2) if l2 else None
        if l1:
            signs = torch._foreach_sign(params)
            torch._foreach_mul_(signs, grad * l1)
            if grads is None:
                grads = signs
            else:
                torch._foreach_add_(grads, signs)
        return (None, None, *grads)


def _differentiable_grads(
    params: tuple[torch.Tensor, ...], grad: torch.Tensor, l1: float, l2: float
) -> list[torch.Tensor]:
    """g·(l1·sign(w) + l2·w) built from ops autograd can differentiate again."""
    grads = torch._foreach_mul(params, l2) if l2 else torch._foreach_mul(torch._foreach_sign(params), l1)
    if l1 and l2:
        torch._foreach_add_(grads, torch._foreach_sign(params), alpha=l1)
    torch._foreach_mul_(grads, grad)  # in place: the out-of-place form cannot be differentiated again
    return grads


def elementwise_norms(params: Sequence[torch.Tensor], l1: float, l2: float) -> torch.Tensor:
    """``l1·Σ‖w‖₁ + l2·½Σ‖w‖²₂`` over ``params`` (weights ``l1, l2 >= 0``, not both zero)."""
    if not params:
        raise ValueError("params must hold at least one tensor")
    if l1 < 0 or l2 < 0 or (l1 == 0 and l2 == 0):
        raise ValueError(f"l1 and l2 must be >= 0 and not both 0, got l1={l1}, l2={l2}")
    return _ElementwiseNorms.apply(float(l1), float(l2), *params)
