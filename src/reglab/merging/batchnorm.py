"""Recompute BatchNorm running statistics of a model whose weights were averaged or merged.

A BatchNorm layer's running mean and variance describe the activations of the weights that
produced them. After weights are averaged (a model soup) or merged (DARE), the average of the
members' statistics is not the statistics of the averaged network, and evaluation with them can
fall to near chance. ``recalibrate_batchnorm`` resets every BatchNorm layer's statistics and
recomputes them as a plain cumulative average over ``batches`` (momentum ``None``), in training
mode and without gradients, as ``torch.optim.swa_utils.update_bn`` does for SWA.

Example:
    >>> import torch, reglab as rl
    >>> net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    >>> batches = [torch.randn(16, 3) for _ in range(4)]
    >>> _ = rl.recalibrate_batchnorm(net, batches)
    >>> int(net[1].num_batches_tracked)
    4
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

__all__ = ["recalibrate_batchnorm"]


def _inputs(batch: Any) -> Any:
    """The model input of a batch: the batch itself, or the first item of an ``(x, y, ...)`` tuple."""
    return batch[0] if isinstance(batch, (tuple, list)) else batch


def recalibrate_batchnorm(model: nn.Module, batches: Iterable[Any]) -> nn.Module:
    """Reset and recompute every BatchNorm layer's running statistics over ``batches``.

    ``batches`` yields model inputs, or ``(x, y, ...)`` tuples whose first item is the input;
    at least one batch. The model's train/eval mode and each layer's momentum are restored
    afterwards. Returns ``model`` (changed in place). A model without BatchNorm raises
    ``ValueError``: there is nothing to recalibrate.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        raise ValueError("model has no BatchNorm layer: its statistics need no recalibration")
    if not all(m.track_running_stats for m in norms):
        raise ValueError("model has BatchNorm layers with track_running_stats=False: nothing to recalibrate")
    momenta = [m.momentum for m in norms]
    was_training = model.training
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over all batches
    model.train()
    seen = 0
    try:
        with torch.no_grad():
            for batch in batches:
                model(_inputs(batch))
                seen += 1
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        model.train(was_training)
    if seen == 0:
        raise ValueError("batches must yield at least one batch, got none")
    return model
