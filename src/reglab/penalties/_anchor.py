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


def add_anchor_gradient_(
    grads: list[torch.Tensor], params: list[torch.Tensor], anchors: list[torch.Tensor], lam: float
) -> None:
    """``grads += lam·(w − a)`` in place: the gradient of ``lam·l2_anchor(params, anchors)``."""
    torch._foreach_add_(grads, params, alpha=lam)
    torch._foreach_add_(grads, anchors, alpha=-lam)


def per_parameter(
    what: str,
    given: Sequence[torch.Tensor] | Mapping[str, torch.Tensor],
    named: Sequence[tuple[str, torch.Tensor]],
    nonnegative: bool = False,
) -> list[torch.Tensor]:
    """One tensor per selected parameter, from a sequence in the selection's order or a mapping
    from its names: checked (shape, finite, and ``>= 0`` when ``nonnegative``), detached, copied
    to the parameter's dtype and device. ``what`` names the argument in the errors."""
    if isinstance(given, Mapping):
        missing = [n for n, _ in named if n not in given]
        if missing:
            raise ValueError(f"{what} has no tensor for the selected parameters {missing}")
        tensors = [given[n] for n, _ in named]
    elif isinstance(given, torch.Tensor) or not isinstance(given, Iterable):
        raise TypeError(
            f"{what} must be None, a sequence of tensors or a mapping from parameter names "
            f"to tensors, got {type(given).__name__}"
        )
    else:
        tensors = list(given)
        if len(tensors) != len(named):
            raise ValueError(f"{what} holds {len(tensors)} tensors but params selects {len(named)}")
    out = []
    for (name, p), t in zip(named, tensors):
        if not isinstance(t, torch.Tensor) or t.shape != p.shape:
            got = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            raise ValueError(f"{what} for {name!r} must be a tensor of shape {tuple(p.shape)}, got {got}")
        if not bool(torch.isfinite(t).all()):
            raise ValueError(f"{what} for {name!r} has non-finite values (NaN or Inf)")
        if nonnegative and bool((t < 0).any()):
            raise ValueError(f"{what} for {name!r} must be >= 0")
        out.append(t.detach().to(dtype=p.dtype, device=p.device).clone())
    return out


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
        return per_parameter("anchors", anchors, named)

    def anchors(self) -> list[torch.Tensor]:
        """The anchor tensors, in the selection's order."""
        return [self.get_buffer(f"anchor_{i}") for i in range(len(self.selection))]

    def value(self, params: list[torch.Tensor]) -> torch.Tensor:
        return l2_anchor(params, self.anchors())
