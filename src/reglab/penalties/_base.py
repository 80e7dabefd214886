"""Shared plumbing of parameter penalties: selection, strength, step counter, zero-strength skip."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from reglab._core.schedules import Schedule, Strength
from reglab._core.selection import Selection, as_selection
from reglab._core.validation import check_strength


class ParameterPenalty(nn.Module):
    """Base class: ``forward()`` returns ``strength * value(params)`` as a scalar tensor.

    Subclasses implement ``value(params)`` with the pure function from ``reglab.functional``.
    The strength's step counter advances on each call in training mode; with zero strength at
    the current step the penalty returns a zero that adds nothing to any gradient.
    """

    def __init__(
        self,
        params: Selection | nn.Module | Iterable[torch.Tensor],
        strength: float | Schedule,
    ) -> None:
        super().__init__()
        self.selection = as_selection(params)
        self.strength = Strength(check_strength("strength", strength))

    def value(self, params: list[torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def forward(self) -> torch.Tensor:
        params = self.selection.params()
        lam = self.strength()
        if self.training:
            self.strength.advance()
        if lam == 0.0:
            return torch.zeros((), dtype=params[0].dtype, device=params[0].device)
        return lam * self.value(params)

    def extra_repr(self) -> str:
        return f"params={len(self.selection)} tensors ({self.selection.numel()} values)"
