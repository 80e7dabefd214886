"""``GeneratorState``: a module's optional ``generator=`` saved in ``state_dict()``.

A module that is given ``generator=`` owns it: its state is saved by ``state_dict()`` (as the
module's extra state) and restored by ``load_state_dict()``, so a resumed run draws the same
numbers. Without a generator the module draws from PyTorch's global generator, like
``nn.Dropout``, and there is nothing to save. Shared by the stochastic layers and the batch
transforms.
"""

from __future__ import annotations

from typing import Any

import torch


class GeneratorState:
    """Mixin for ``nn.Module`` classes holding ``self.generator``: its state is the extra state."""

    generator: torch.Generator | None

    def get_extra_state(self) -> dict[str, Any]:
        return {"generator": None if self.generator is None else self.generator.get_state()}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        saved = state.get("generator") if isinstance(state, dict) else None
        if saved is not None and self.generator is not None:
            self.generator.set_state(saved)
