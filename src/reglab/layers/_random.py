"""Private helpers of the stochastic layers: masks and dropout from an optional generator.

The generator itself is kept in ``state_dict()`` by ``reglab._core.generator_state.GeneratorState``;
without one the layers draw from PyTorch's global generator, like ``nn.Dropout``.
"""

from __future__ import annotations

import torch


def keep_mask(
    shape: tuple[int, ...] | torch.Size,
    keep: float,
    like: torch.Tensor,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """A 0/1 mask of ``shape`` in ``like``'s dtype and device, each entry 1 with probability ``keep``."""
    mask = torch.empty(shape, dtype=like.dtype, device=like.device)
    return mask.bernoulli_(keep, generator=generator)


def dropout(x: torch.Tensor, p: float, generator: torch.Generator | None) -> torch.Tensor:
    """Inverted dropout in training: zero each entry with probability ``p``, scale the rest by 1/(1-p)."""
    if p == 0.0:
        return x
    if generator is None:
        return torch.nn.functional.dropout(x, p, training=True)
    return x * keep_mask(x.shape, 1.0 - p, x, generator) / (1.0 - p)
