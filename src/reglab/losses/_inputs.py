"""The model inputs a loss needs besides the logits (ELLE, SMART): recorded by a forward pre-hook.

``InputRecorder(model)`` keeps the latest input of a training-mode forward pass of ``model`` (a
tensor first argument, detached), so such a loss can be called as ``loss(model(x), y)`` like any
other, also from ``Recipe``. The loss's own extra forward passes run inside ``recorder.paused()``
and are not recorded. The hook holds the recorder weakly: a recorder that is garbage-collected
without ``remove()`` leaves only a no-op hook.

>>> import torch
>>> net = torch.nn.Linear(2, 1)
>>> rec = InputRecorder(net)
>>> _ = net(torch.ones(3, 2))
>>> rec.last.shape
torch.Size([3, 2])
>>> with rec.paused():
...     _ = net(torch.zeros(1, 2))
>>> rec.last.shape
torch.Size([3, 2])
>>> rec.remove(); rec.last is None
True
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn


class InputRecorder:
    """The latest training-mode input of ``model`` (see the module docstring)."""

    def __init__(self, model: nn.Module) -> None:
        self.last: torch.Tensor | None = None
        self._paused = False
        ref = weakref.ref(self)

        def record(module: nn.Module, args: tuple[Any, ...]) -> None:
            me = ref()
            if (me is not None and not me._paused and module.training and args
                    and isinstance(args[0], torch.Tensor)):
                me.last = args[0].detach()

        self._handle = model.register_forward_pre_hook(record)

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Forward passes inside are not recorded (the loss's own extra passes)."""
        self._paused = True
        try:
            yield
        finally:
            self._paused = False

    def remove(self) -> None:
        """Take the hook off the model and forget the input."""
        self._handle.remove()
        self.last = None
