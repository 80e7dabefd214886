"""Hessian-vector products of a model's loss, shared by ``sharpness`` and ``hessian_trace``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn



def check_batch(batch: object) -> tuple[Any, Any]:
    """``batch`` must be a pair ``(x, y)``."""
    if not isinstance(batch, Sequence) or isinstance(batch, str) or len(batch) != 2:
        raise ValueError(f"batch must be a pair (x, y), got {type(batch).__name__}")
    return batch[0], batch[1]


def loss_gradient(
    model: nn.Module, loss_fn: Callable[..., torch.Tensor], batch: object
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """The trainable parameters and the gradient of ``loss_fn(model(x), y)`` with its graph kept."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not callable(loss_fn):
        raise TypeError(
            f"loss_fn must be callable (output, y) -> scalar, got {type(loss_fn).__name__}"
        )
    x, y = check_batch(batch)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model has no parameter with requires_grad=True")
    with torch.enable_grad():
        loss = loss_fn(model(x), y)
        if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
            raise ValueError("loss_fn must return a scalar tensor")
        grads = torch.autograd.grad(loss, params, create_graph=True)
    return params, list(grads)


def hvp(
    params: list[torch.Tensor], grads: list[torch.Tensor], v: list[torch.Tensor]
) -> list[torch.Tensor]:
    """H v for the Hessian of the loss whose gradient ``grads`` was taken with create_graph."""
    with torch.enable_grad():
        dot = sum((g * u).sum() for g, u in zip(grads, v))
        out = torch.autograd.grad(dot, params, retain_graph=True, allow_unused=True)
    return [torch.zeros_like(p) if h is None else h.detach() for p, h in zip(params, out)]


def inner(a: list[torch.Tensor], b: list[torch.Tensor]) -> torch.Tensor:
    return sum((x * y).sum() for x, y in zip(a, b))  # type: ignore[return-value]


