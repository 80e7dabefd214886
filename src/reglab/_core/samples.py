"""Small sample arguments every registry entry provides, so shared tests can run it.

A registry entry's ``sample`` is a function ``(SampleContext) -> Sample``. The context holds a
tiny model, a batch and helpers, all seeded and in the dtype under test; the ``Sample`` says how
to construct the method, how to call it, which arguments must be refused and which make it a
no-op. ``tests/test_contract.py`` drives every entry through these.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class SampleContext:
    """A seeded toy problem in one dtype: an MLP on ``x`` (N, D), a CNN on ``images`` (N, 3, 8, 8)."""

    dtype: torch.dtype = torch.float64
    seed: int = 0
    batch: int = 6
    features: int = 5
    num_classes: int = 4
    num_examples: int = 12

    def __post_init__(self) -> None:
        g = torch.Generator().manual_seed(self.seed)
        torch_state = torch.random.get_rng_state()
        torch.manual_seed(self.seed)  # module initializers draw from the global generator
        try:
            self.model = nn.Sequential(
                nn.Linear(self.features, 8), nn.ReLU(), nn.Linear(8, 8), nn.Tanh(),
                nn.Linear(8, self.num_classes),
            ).to(self.dtype)
            self.cnn = nn.Sequential(
                nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Flatten(),
                nn.Linear(4 * 8 * 8, self.num_classes),
            ).to(self.dtype)
        finally:
            torch.random.set_rng_state(torch_state)
        self.x = torch.randn(self.batch, self.features, generator=g, dtype=self.dtype)
        self.images = torch.randn(self.batch, 3, 8, 8, generator=g, dtype=self.dtype)
        self.logits = torch.randn(self.batch, self.num_classes, generator=g, dtype=self.dtype)
        self.y = torch.randint(0, self.num_classes, (self.batch,), generator=g)
        self.index = torch.randperm(self.num_examples, generator=g)[: self.batch]
        self.generator = g

    def optimizer(self, model: nn.Module | None = None) -> torch.optim.Optimizer:
        """A fresh SGD with momentum over ``model`` (default: the MLP)."""
        return torch.optim.SGD((model or self.model).parameters(), lr=0.1, momentum=0.9)

    def loss(self, model: nn.Module | None = None) -> torch.Tensor:
        return F.cross_entropy((model or self.model)(self.x), self.y)

    def closure(
        self, optimizer: torch.optim.Optimizer, model: nn.Module | None = None
    ) -> Callable[[], torch.Tensor]:
        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            loss = self.loss(model)
            loss.backward()
            return loss

        return closure


@dataclass
class Sample:
    """How the shared tests exercise one method.

    kwargs: constructor arguments (``reglab.create(name, **kwargs)``).
    inputs: positional arguments of a call, for transforms, losses, layers and metrics; for an
        activity penalty, the inputs of ``ctx.model`` before the penalty is read.
    invalid: argument overrides, each of which the constructor must refuse with ``ValueError``.
    identity: argument overrides that make the method a no-op (zero strength, p=0), or ``None``
        where no such setting exists.
    reference: for losses and layers, the output expected under ``identity`` (or in eval mode).
    """

    kwargs: dict[str, Any]
    inputs: tuple[Any, ...] = ()
    invalid: tuple[dict[str, Any], ...] = ()
    identity: dict[str, Any] | None = None
    reference: Callable[..., Any] | None = field(default=None, repr=False)
