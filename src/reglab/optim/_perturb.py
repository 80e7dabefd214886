"""Private helpers of the closure-evaluating wrappers (SAM, AMP, gradient-norm penalty).

They move the parameters to a probe point, re-evaluate the gradient there and come back. The
way back copies a saved snapshot, so the parameters return bit for bit (θ + e − e can differ
from θ in the last bit).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch


def params_with_grad(param_groups: Iterable[dict[str, Any]]) -> list[list[torch.Tensor]]:
    """Per group, the parameters that received a gradient."""
    return [[p for p in group["params"] if p.grad is not None] for group in param_groups]


def flat(groups: list[list[torch.Tensor]]) -> list[torch.Tensor]:
    return [p for params in groups for p in params]


def grads_of(params: list[torch.Tensor]) -> list[torch.Tensor]:
    """The parameters' gradients; a parameter that got none (unused at a probe point) gets zeros."""
    return [torch.zeros_like(p) if p.grad is None else p.grad for p in params]


def global_norm(tensors: list[torch.Tensor]) -> torch.Tensor:
    """‖concat(tensors)‖₂ as a 0-d tensor in the first tensor's dtype and device."""
    if not tensors:
        return torch.zeros(())
    norms = torch._foreach_norm(tensors, 2)
    first = norms[0]
    return torch.linalg.vector_norm(torch.stack([n.to(first.device, first.dtype) for n in norms]))


def snapshot(params: list[torch.Tensor]) -> list[torch.Tensor]:
    return [p.detach().clone() for p in params]


def restore(params: list[torch.Tensor], saved: list[torch.Tensor]) -> None:
    """Copy ``saved`` back into ``params`` in place (call under ``torch.no_grad()``)."""
    if params:
        torch._foreach_copy_(params, saved)


def set_grads(params: list[torch.Tensor], grads: list[torch.Tensor]) -> None:
    """Make ``grads`` the parameters' ``.grad`` (detached)."""
    for p, g in zip(params, grads):
        p.grad = g.detach()
