"""Base class of optimizer wrappers: a ``torch.optim.Optimizer`` around an inner optimizer.

The wrapper shares ``param_groups`` (the same list of the same dicts) with the inner optimizer,
so LR schedulers and ``add_param_group`` act on both; its own per-parameter state lives in
``self.state`` and both states are saved by ``state_dict()``. Hyperparameters of the wrapper
(``rho``, ``weight_decay``, ...) are written into each group, so they can differ per group.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch


class OptimizerWrapper(torch.optim.Optimizer):
    """Wrap ``optimizer``; subclasses implement ``step(closure)``."""

    def __init__(self, optimizer: torch.optim.Optimizer, defaults: dict[str, Any]) -> None:
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(
                f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}"
            )
        self.optimizer = optimizer
        # Optimizer.__init__ adds our defaults to the inner optimizer's group dicts in place.
        super().__init__(optimizer.param_groups, defaults)
        self.param_groups = optimizer.param_groups

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group to the inner optimizer (its defaults) with the wrapper's defaults too."""
        if any(g is param_group for g in self.optimizer.param_groups):
            super().add_param_group(param_group)  # the inner groups, taken over in __init__
            return
        self.optimizer.add_param_group(param_group)
        for key, value in self.defaults.items():
            self.optimizer.param_groups[-1].setdefault(key, value)

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict[str, Any]:
        return {"inner": self.optimizer.state_dict(), "wrapper": super().state_dict()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if set(state_dict) != {"inner", "wrapper"}:
            raise ValueError(
                "state_dict must come from the same wrapper's state_dict() (keys 'inner' and "
                f"'wrapper'), got keys {sorted(state_dict)}"
            )
        self.optimizer.load_state_dict(state_dict["inner"])
        super().load_state_dict(state_dict["wrapper"])
        self.param_groups = self.optimizer.param_groups

    def _require_closure(self, closure: Callable[[], Any] | None) -> Callable[[], Any]:
        """The closure, with gradients enabled even inside a ``@torch.no_grad()`` step."""
        if closure is None:
            name = type(self).__name__
            raise ValueError(
                f"{name}.step needs a closure that zeroes the gradients, computes the loss, "
                f"calls backward() and returns the loss: {name.lower()}.step(closure)"
            )
        return torch.enable_grad()(closure)
