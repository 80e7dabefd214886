"""Base class of post-step methods: run after every ``optimizer.step()``.

``attach(optimizer)`` registers the method with ``optimizer.register_step_post_hook``; attaching
to the same optimizer twice keeps one registration. All state (counters, utilities, RNG state)
goes through ``state_dict()`` / ``load_state_dict()``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.hooks import RemovableHandle


class PostStepHook:
    """Subclasses implement ``after_step(optimizer)`` and, when they keep state, the state methods."""

    def __init__(self) -> None:
        self._handle: RemovableHandle | None = None
        self._optimizer: torch.optim.Optimizer | None = None

    def attach(self, optimizer: torch.optim.Optimizer) -> RemovableHandle:
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
        if self._handle is not None and self._optimizer is optimizer:
            return self._handle
        self.detach()
        self._optimizer = optimizer
        self._handle = optimizer.register_step_post_hook(lambda opt, args, kwargs: self.after_step(opt))
        return self._handle

    def detach(self) -> None:
        if self._handle is not None:
            self._handle.remove()
        self._handle, self._optimizer = None, None

    def after_step(self, optimizer: torch.optim.Optimizer) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if state_dict:
            raise ValueError(f"{type(self).__name__} keeps no state, got keys {sorted(state_dict)}")
