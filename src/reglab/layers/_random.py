"""Private helpers of the stochastic layers: masks from an optional generator, kept in state_dict.

A layer that is given ``generator=`` owns it: its state is saved by ``state_dict()`` (as the
module's extra state) and restored by ``load_state_dict()``, so a resumed run draws the same
masks. Without a generator the layers draw from PyTorch's global generator, like ``nn.Dropout``.
"""

from __future__ import annotations

from typing import Any

import torch

from reglab._core.validation import check_number




def check_probability(name: str, value: object) -> float:
    """A drop probability in [0, 1)."""
    return check_number(name, value, low=0.0, high=1.0, high_open=True)


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


class GeneratorState:
    """Mixin for ``nn.Module`` layers holding ``self.generator``: its state is the module's extra state."""

    generator: torch.Generator | None

    def get_extra_state(self) -> dict[str, Any]:
        return {"generator": None if self.generator is None else self.generator.get_state()}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        saved = state.get("generator") if isinstance(state, dict) else None
        if saved is not None and self.generator is not None:
            self.generator.set_state(saved)
