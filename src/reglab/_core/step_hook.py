"""One hook on one optimizer's step, held by a method: attach, detach, and whether it is live.

Parameter penalties attached to the step (a pre-step hook, ``ParameterPenalty.attach``) and
post-step methods (a post-step hook, ``PostStepHook.attach``) hold one ``StepHook``. The
registration is wiring, not state: it is not in ``state_dict()``, and a copy or a pickle of the
method comes out detached (the optimizer is not copied with it). The hook is live while its
optimizer exists and its handle is registered: ``handle.remove()`` on the handle ``attach``
returned is the same as ``detach()``.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import torch
from torch.utils.hooks import RemovableHandle


class StepHook:
    """The registration of one step hook; ``attach(optimizer, register)`` calls ``register``."""

    def __init__(self) -> None:
        self._handle: RemovableHandle | None = None
        self._optimizer: weakref.ref[torch.optim.Optimizer] | None = None

    def attach(
        self,
        optimizer: torch.optim.Optimizer,
        register: Callable[[torch.optim.Optimizer], RemovableHandle],
    ) -> RemovableHandle:
        """Register through ``register(optimizer)``; attaching to the same optimizer again keeps
        the one live registration, attaching to another moves it there."""
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
        if self.live and self.optimizer is optimizer:
            return self._handle  # type: ignore[return-value]
        self.detach()
        self._handle = register(optimizer)
        self._optimizer = weakref.ref(optimizer)
        return self._handle

    def detach(self) -> None:
        if self._handle is not None:
            self._handle.remove()
        self._handle, self._optimizer = None, None

    @property
    def optimizer(self) -> torch.optim.Optimizer | None:
        """The optimizer the hook is on, or None (never attached, detached, or collected)."""
        return self._optimizer() if self._optimizer is not None else None

    @property
    def live(self) -> bool:
        """Whether the hook is registered on an optimizer that still exists."""
        handle = self._handle
        if handle is None:
            return False
        hooks = handle.hooks_dict_ref()
        if hooks is None or handle.id not in hooks or self.optimizer is None:
            self._handle, self._optimizer = None, None  # removed through the handle, or collected
            return False
        return True

    def __getstate__(self) -> dict[str, Any]:
        return {"_handle": None, "_optimizer": None}  # copies and pickles come out detached
