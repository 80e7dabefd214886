"""Build a registered method from its name and arguments inside a training set-up.

Recipes written as data (YAML in the benchmark, callbacks) name methods and their
hyperparameters only; ``bind`` fills the constructor arguments that come from the set-up, by
their conventional names, when the constructor has them and the caller did not give them:

=============  ====================================================================
``params``     the model (penalties select its weights)
``model``      the model (activity penalties, post-step hooks, surgery)
``optimizer``  the optimizer built so far (wrappers wrap it)
``num_classes``, ``num_examples``, ``total_steps``: from the task and the budget
=============  ====================================================================

Layer entries with an ``apply`` function are model surgery: ``bind`` applies it to the model and
returns ``None`` (the layer is then part of the model, not of the step).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from reglab._core.registry import Kind, get


@dataclass
class SetUp:
    """What a method can be bound to."""

    model: nn.Module
    optimizer: torch.optim.Optimizer | None = None
    num_classes: int | None = None
    num_examples: int | None = None
    total_steps: int | None = None

    def value(self, name: str) -> Any:
        return self.model if name == "params" else getattr(self, name, None)


CONTEXT_NAMES = ("params", "model", "optimizer", "num_classes", "num_examples", "total_steps")


def bind(name: str, kwargs: dict[str, Any], setup: SetUp) -> Any:
    """Construct ``name`` with ``kwargs`` plus whatever it needs from ``setup``."""
    entry = get(name)
    if entry.kind is Kind.LAYER and entry.apply is not None:
        target = entry.apply
        first = next(iter(inspect.signature(target).parameters))
        target(**{first: setup.model, **kwargs})
        return None
    params = inspect.signature(entry.target).parameters
    filled = dict(kwargs)
    for arg in CONTEXT_NAMES:
        if arg in params and arg not in filled:
            value = setup.value(arg)
            if value is None:
                raise ValueError(f"{name} needs {arg!r}, which this set-up does not provide")
            filled[arg] = value
    return entry.build(**filled)
