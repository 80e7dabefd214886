"""Shared plumbing of parameter penalties: selection, strength, step counter, zero-strength skip.

Non-finite parameters are refused twice: when the penalty is built (one fused reduction over the
selection) and, on CPU, whenever ``forward()`` produces a non-finite value; the error names the
first parameter holding NaN or Inf. On an accelerator the per-call check is skipped because it
would synchronise the device every step; call ``pen.selection.check_finite()`` yourself there.
"""

from __future__ import annotations

import math
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
        try:
            self.selection.check_finite()
        except ValueError as err:
            raise ValueError(f"params must hold finite values: {err}") from None
        self.strength = Strength(check_strength("strength", strength))

    def value(self, params: list[torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def scaled_value(self, params: list[torch.Tensor], lam: float) -> torch.Tensor:
        """``lam * value(params)``; a subclass may fold ``lam`` into its computation (speed)."""
        return lam * self.value(params)

    def forward(self) -> torch.Tensor:
        params = self.selection.params()
        strength = self.strength  # one submodule look-up (they cost a µs each)
        lam = strength()
        if self.training:
            strength.advance()
        if lam == 0.0:
            return torch.zeros((), dtype=params[0].dtype, device=params[0].device)
        out = self.scaled_value(params, lam)
        if out.device.type == "cpu" and not math.isfinite(out.item()):
            self._raise_non_finite(out)
        return out

    def _raise_non_finite(self, out: torch.Tensor) -> None:
        try:
            self.selection.check_finite()
        except ValueError as err:
            raise ValueError(f"{type(self).__name__}: {err}") from None
        raise ValueError(
            f"{type(self).__name__} evaluated to {out.item()} although every parameter is finite: "
            f"the penalty overflowed {out.dtype}; lower the strength or compute in float64"
        )

    def extra_repr(self) -> str:
        return f"params={len(self.selection)} tensors ({self.selection.numel()} values)"
