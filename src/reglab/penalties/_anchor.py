"""Shared part of L2-init and L2-SP: half the squared distance of the weights to anchor tensors.

The anchors are copies taken when the penalty is built (the weights at that moment), or tensors
the caller gives: a sequence in the selection's order, or a mapping from the selection's names
(a ``state_dict()`` of pretrained weights) to tensors. They are buffers, so ``state_dict()``
carries them and a resumed run keeps the same anchor.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import torch
from torch import nn

from reglab._core.schedules import Schedule
from reglab._core.selection import Selection
from reglab.penalties._base import ParameterPenalty
from reglab.penalties._foreach import elementwise_norms

Anchors = Sequence[torch.Tensor] | Mapping[str, torch.Tensor] | None


def l2_anchor(params: list[torch.Tensor], anchors: list[torch.Tensor]) -> torch.Tensor:
    """½ Σ_t ‖w_t − a_t‖²₂, the t-th anchor ``a_t`` matching the t-th tensor ``w_t``."""
    if len(params) != len(anchors):
        raise ValueError(f"anchors must match params one to one, got {len(anchors)} anchors for {len(params)} params")
    return elementwise_norms(torch._foreach_sub(params, anchors), l1=0.0, l2=1.0)


class AnchorPenalty(ParameterPenalty):
    """λ · ½ Σ‖w − w₀‖² with the anchors w₀ held as buffers ``anchor_0``, ``anchor_1``, ..."""

    def __init__(
        self,
        params: Selection | nn.Module | Iterable[torch.Tensor],
        strength: float | Schedule,
        anchors: Anchors,
    ) -> None:
        super().__init__(params, strength)
        for i, anchor in enumerate(self._resolve(anchors)):
            self.register_buffer(f"anchor_{i}", anchor)

    def _resolve(self, anchors: Anchors) -> list[torch.Tensor]:
        named = self.selection.named
        if anchors is None:
            return [p.detach().clone() for _, p in named]
        if isinstance(anchors, Mapping):
            missing = [n for n, _ in named if n not in anchors]
            if missing:
                raise ValueError(f"anchors has no tensor for the selected parameters {missing}")
            given = [anchors[n] for n, _ in named]
        elif isinstance(anchors, torch.Tensor) or not isinstance(anchors, Iterable):
            raise TypeError(
                "anchors must be None, a sequence of tensors or a mapping from parameter names "
                f"to tensors, got {type(anchors).__name__}"
            )
        else:
            given = list(anchors)
            if len(given) != len(named):
                raise ValueError(f"anchors holds {len(given)} tensors but params selects {len(named)}")
        out = []
        for (name, p), a in zip(named, given):
            if not isinstance(a, torch.Tensor) or a.shape != p.shape:
                got = tuple(a.shape) if isinstance(a, torch.Tensor) else type(a).__name__
                raise ValueError(f"anchors for {name!r} must be a tensor of shape {tuple(p.shape)}, got {got}")
            if not bool(torch.isfinite(a).all()):
                raise ValueError(f"anchors for {name!r} has non-finite values (NaN or Inf)")
            out.append(a.detach().to(dtype=p.dtype, device=p.device).clone())
        return out

    def anchors(self) -> list[torch.Tensor]:
        """The anchor tensors, in the selection's order."""
        return [self.get_buffer(f"anchor_{i}") for i in range(len(self.selection))]

    def value(self, params: list[torch.Tensor]) -> torch.Tensor:
        return l2_anchor(params, self.anchors())
