"""What the Lightning and Hugging Face integrations share: a ``Recipe`` split for a trainer's hooks.

A trainer owns the loop (forward, backward, optimizer step, gradient accumulation), so the
methods of a ``Recipe`` are applied at its hooks instead of in ``Recipe.step``:

- batch transforms once per micro-batch, before the forward (and reused by every closure pass);
- the loss and activity penalties in the loss the trainer back-propagates;
- parameter penalties either in that loss, or (Lightning) as a gradient added before the
  optimizer step, which is exact because their gradient does not depend on the batch;
- optimizer wrappers and post-step hooks through the trainer's optimizer, as ``Recipe`` does.

``Recipe`` itself checks the combination; these helpers only sort its methods.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from reglab._core.outputs import SampleOutputs
from reglab._core.recipe import Recipe
from reglab._core.registry import Kind, entry_of


def kind_of(method: object) -> Kind | None:
    entry = entry_of(method)
    if entry is not None:
        return entry.kind
    if isinstance(method, torch.nn.modules.loss._Loss):
        return Kind.LOSS
    return None


def check_methods(methods: Sequence[object]) -> list[object]:
    """The methods as a list; an optimizer among them is refused (the trainer owns it)."""
    methods = list(methods)
    for m in methods:
        if isinstance(m, torch.optim.Optimizer):
            raise TypeError(
                f"methods must not hold the optimizer ({type(m).__name__}): give it to the trainer "
                "(configure_optimizers in Lightning, optimizers= for the Hugging Face Trainer); "
                "reglab wrappers such as SAM wrap it there"
            )
    return methods


class Split:
    """A ``Recipe`` of ``methods`` and ``optimizer``, sorted for the hooks of a trainer."""

    def __init__(self, methods: Sequence[object], optimizer: torch.optim.Optimizer) -> None:
        self.methods = list(methods)
        self.recipe = Recipe([*self.methods, optimizer])
        kinds = [kind_of(p) for p in self.recipe.penalties]
        self.parameter_penalties = [p for p, k in zip(self.recipe.penalties, kinds) if k is Kind.PENALTY]
        self.activity_penalties = [p for p, k in zip(self.recipe.penalties, kinds) if k is not Kind.PENALTY]
        self.has_loss = any(kind_of(m) is Kind.LOSS for m in self.methods)
        #: the last value of each penalty (by position in ``recipe.penalties``), for logging
        self.last_values: dict[int, torch.Tensor] = {}

    @property
    def needs_module(self) -> list[object]:
        """The methods that act inside the loss (transforms, loss, activity penalties)."""
        return [m for m in self.methods if kind_of(m) in (Kind.TRANSFORM, Kind.LOSS, Kind.ACTIVITY)]

    def transform(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        for t in self.recipe.transforms:
            x, y = t(x, y)
        return x, y

    def data_loss(self, out: Any, y: torch.Tensor, index: torch.Tensor | None) -> torch.Tensor:
        """The recipe's loss on the outputs (mean over samples for multi-sample outputs)."""
        if self.recipe.needs_index and index is None:
            raise ValueError("the loss needs the batch's sample indices: return (x, y, index) batches")
        args = (y, index) if self.recipe.needs_index else (y,)
        if isinstance(out, SampleOutputs):
            return out.mean_loss(self.recipe.loss, *args)
        return self.recipe.loss(out, *args)

    def loss(self, out: Any, y: torch.Tensor, index: torch.Tensor | None, *,
             parameter_penalties: bool) -> torch.Tensor:
        """Data loss + activity penalties (+ parameter penalties when asked), in Recipe's order."""
        loss = self.data_loss(out, y, index)
        for i, penalty in enumerate(self.recipe.penalties):
            if parameter_penalties or penalty not in self.parameter_penalties:
                value = penalty()
                self.last_values[i] = value.detach()
                loss = loss + value
        return loss

    def add_penalty_gradients(self) -> None:
        """Add each parameter penalty's gradient to the parameters' ``.grad``."""
        create_graph = self.recipe.create_graph
        with torch.enable_grad():
            for penalty in self.parameter_penalties:
                value = penalty()
                self.last_values[self.recipe.penalties.index(penalty)] = value.detach()
                if value.requires_grad:
                    value.backward(create_graph=create_graph)


def strengths(methods: Sequence[object]) -> dict[str, float]:
    """``{"<position>-<class>": strength at the current step}`` of the methods that have one."""
    out = {}
    for i, m in enumerate(methods):
        strength = getattr(m, "strength", None)
        if isinstance(strength, torch.nn.Module) and callable(strength):
            out[f"{i}-{type(m).__name__}"] = float(strength())
    return out


def methods_state(methods: Sequence[object]) -> list[dict[str, Any]]:
    """Each method's ``state_dict()`` (methods without one give an empty dict)."""
    return [dict(m.state_dict()) if hasattr(m, "state_dict") else {} for m in methods]


def load_methods_state(methods: Sequence[object], states: Sequence[dict[str, Any]]) -> None:
    if len(states) != len(methods):
        raise ValueError(
            f"the checkpoint holds the state of {len(states)} methods, but {len(methods)} were given; "
            "resume with the same methods in the same order"
        )
    for m, state in zip(methods, states):
        if hasattr(m, "load_state_dict"):
            m.load_state_dict(state)
