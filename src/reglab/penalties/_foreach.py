"""Fused element-wise norms over a list of tensors: one foreach pass forward, one backward.

``elementwise_norms(params, l1, l2)`` is ``l1·Σ_t ‖w_t‖₁ + l2·½ Σ_t ‖w_t‖²₂``; penalties pass
their strength inside ``l1`` and ``l2`` (``ParameterPenalty.scaled_value``), so the strength
costs no extra op or autograd node. The gradient ``g·(l1·sign(w) + l2·w)`` is written by hand
instead of differentiating through the norms (the plain autograd path divides by the norm and
multiplies back, tensor by tensor):

- the L2 part: ``Σ‖w‖²`` by ``torch._foreach_powsum(ord=2)`` (``_foreach_norm`` on torch
  versions without it) forward, one ``_foreach_mul`` backward;
- the L1 part: ``s = sign(w)`` is computed once, in the forward, and kept for the backward,
  which scales it in place (no second pass over the weights, no new tensors; the elastic net
  adds its L2 part to them with one ``_foreach_add_(signs, w, alpha=g·l2)``). The value is
  ``Σ w·s`` by one dot product per tensor on a few tensors; on many tensors, where a Python
  loop would cost more than it saves, ``_foreach_norm(ord=1)`` (whose CPU kernel is not
  vectorized, hence the dots where they are cheap).

Measured and left out (issue 17, CPU, one thread): one flat copy of all the weights
(``flatten_dense_tensors``: one sign, one dot, the gradients returned as views of one buffer) was
1.6× slower on 100 tensors of 64×64 (two large fresh buffers a call); native compositions
(``mse_loss`` on a flat copy, a dot per tensor, squared ``_foreach_norm``) cost more on an MLP
step than this one autograd node.

A second backward through the same graph (``retain_graph=True``) recomputes the signs from the
saved weights. Under ``create_graph=True`` the backward switches to a formulation autograd can
differentiate again, as double-backprop regularizers need. Every path is tested equal to a
per-tensor loop in float64.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

DOT_MAX_TENSORS = 8  # up to this many tensors, the L1 value is a dot product per tensor

_POWSUM = getattr(torch, "_foreach_powsum", None)  # torch >= 2.10; Σ|w|^p without the root


def _sum_of_squares(params: Sequence[torch.Tensor]) -> torch.Tensor:
    if _POWSUM is not None:
        return torch.stack(_POWSUM(params, 2)).sum()
    return torch.stack(torch._foreach_norm(params, 2)).square().sum()


def _sum_of_abs(params: Sequence[torch.Tensor], signs: Sequence[torch.Tensor]) -> torch.Tensor:
    if len(params) <= DOT_MAX_TENSORS:
        total = torch.dot(params[0].reshape(-1), signs[0].reshape(-1))
        for p, s in zip(params[1:], signs[1:]):
            total = total + torch.dot(p.reshape(-1), s.reshape(-1))
        return total
    return torch.stack(torch._foreach_norm(params, 1)).sum()


class _ElementwiseNorms(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, l1: float, l2: float, *params: torch.Tensor) -> torch.Tensor:
        ctx.weights = (l1, l2)
        ctx.save_for_backward(*params)
        if not l1:  # L2 alone (weight decay as a loss term): the shortest path
            return _sum_of_squares(params).mul_(0.5 * l2)
        signs = torch._foreach_sign(params)
        ctx.signs = signs  # an intermediate, so a ctx attribute (save_for_backward: in/outputs)
        value = _sum_of_abs(params, signs).mul_(l1)
        if l2:
            value = value.add_(_sum_of_squares(params), alpha=0.5 * l2)
        return value

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        l1, l2 = ctx.weights
        params = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True: keep every step differentiable
            return (None, None, *_differentiable_grads(params, grad, l1, l2))
        g = float(grad) if grad.device.type == "cpu" else grad  # a number: scalar-list foreach ops
        if not l1:
            return (None, None, *torch._foreach_mul(params, g * l2))
        signs, ctx.signs = getattr(ctx, "signs", None), None  # used once: scaled in place below
        signs = torch._foreach_sign(params) if signs is None else signs
        scale = g * l1
        if not (isinstance(scale, float) and scale == 1.0):  # g·l1 = 1: the signs are the gradient
            torch._foreach_mul_(signs, scale)
        if l2 and isinstance(g, float):
            torch._foreach_add_(signs, params, alpha=g * l2)
        elif l2:
            torch._foreach_add_(signs, torch._foreach_mul(params, g * l2))
        return (None, None, *signs)


def _differentiable_grads(
    params: tuple[torch.Tensor, ...], grad: torch.Tensor, l1: float, l2: float
) -> list[torch.Tensor]:
    """g·(l1·sign(w) + l2·w) built from ops autograd can differentiate again."""
    grads = torch._foreach_mul(params, l2) if l2 else torch._foreach_mul(torch._foreach_sign(params), l1)
    if l1 and l2:
        torch._foreach_add_(grads, torch._foreach_sign(params), alpha=l1)
    torch._foreach_mul_(grads, grad)  # in place: the out-of-place form cannot be differentiated again
    return grads


def add_elementwise_norms_gradient_(
    grads: Sequence[torch.Tensor], params: Sequence[torch.Tensor], l1: float, l2: float
) -> None:
    """``grads += l1·sign(w) + l2·w`` in place: the gradient of ``elementwise_norms(params, l1,
    l2)`` without its value, one ``_foreach_sign`` and one or two in-place foreach adds (the
    optimizer-step form of ``ParameterPenalty.attach``, as ``torch.optim.SGD`` adds its decay)."""
    if l1:
        torch._foreach_add_(grads, torch._foreach_sign(params), alpha=l1)
    if l2:
        torch._foreach_add_(grads, params, alpha=l2)


def elementwise_norms(params: Sequence[torch.Tensor], l1: float, l2: float) -> torch.Tensor:
    """``l1·Σ‖w‖₁ + l2·½Σ‖w‖²₂`` over ``params`` (weights ``l1, l2 >= 0``, not both zero)."""
    if not params:
        raise ValueError("params must hold at least one tensor")
    if l1 < 0 or l2 < 0 or (l1 == 0 and l2 == 0):
        raise ValueError(f"l1 and l2 must be >= 0 and not both 0, got l1={l1}, l2={l2}")
    return _ElementwiseNorms.apply(float(l1), float(l2), *params)
