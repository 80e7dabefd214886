"""``SampleOutputs``: a model output made of several stochastic samples of the same batch.

Layers that evaluate a head several times (multi-sample dropout) return one in training mode;
``Recipe`` then averages the loss over the samples, L = (1/K) Σ_k loss(out_k, y). In eval mode
such layers return a plain tensor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch


class SampleOutputs(tuple):  # type: ignore[type-arg]
    """A tuple of K outputs for the same batch, one per stochastic sample."""

    def mean_loss(self, loss_fn: Callable[..., torch.Tensor], *args: Any) -> torch.Tensor:
        """(1/K) Σ_k loss_fn(out_k, *args)."""
        return torch.stack([loss_fn(out, *args) for out in self]).mean()
