"""Base class of post-step methods: run after every ``optimizer.step()``.

``attach(optimizer)`` registers the method with ``optimizer.register_step_post_hook``; attaching
to the same optimizer twice keeps one registration, and a copy comes out detached
(``reglab._core.step_hook``). All state (counters, utilities, RNG state)
goes through ``state_dict()`` / ``load_state_dict()``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.hooks import RemovableHandle

from reglab._core.step_hook import StepHook


class PostStepHook:
    """Subclasses implement ``after_step(optimizer)`` and, when they keep state, the state methods."""

    def __init__(self) -> None:
        self._step_hook = StepHook()

    def attach(self, optimizer: torch.optim.Optimizer) -> RemovableHandle:
        """Run ``after_step`` after every ``optimizer.step()``; ``handle.remove()`` or ``detach()``
        stops it (``reglab._core.step_hook``)."""
        return self._step_hook.attach(
            optimizer, lambda opt: opt.register_step_post_hook(lambda o, args, kwargs: self.after_step(o))
        )

    def detach(self) -> None:
        self._step_hook.detach()

    def after_step(self, optimizer: torch.optim.Optimizer) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if state_dict:
            raise ValueError(f"{type(self).__name__} keeps no state, got keys {sorted(state_dict)}")
