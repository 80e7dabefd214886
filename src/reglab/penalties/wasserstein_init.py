"""Wasserstein-init penalty: keep each layer's weight *distribution* near its initial one.

Equation::

    R(w) = λ · Σ_t Σ_i ( sort(w_t)_i − sort(w_t⁽⁰⁾)_i )²

the squared 2-Wasserstein distance between the empirical distributions of each tensor's current
and initial entries (times its number of entries). Unlike L2-init it ignores which entry holds
which value: any permutation of the initial weights costs nothing, so it constrains less. The
gradient is 2λ(sort(w) − sort(w⁽⁰⁾)) sent back to the entries in the order of ``sort(w)``.

Arguments:
    params: a selection (``reglab.select``), a module (its "weights" selection: no biases, norm
        layers or embeddings) or an iterable of tensors; at least one tensor, all finite.
    strength: λ >= 0, a float or a ``reglab.schedules`` schedule.
    anchors: ``None`` (snapshot now), a sequence of tensors in the selection's order, or a mapping
        from the selection's parameter names to tensors; kept sorted and flattened.

Returns:
    ``forward()`` returns a scalar tensor, λ·R(w), in the parameters' dtype.

Example:
    >>> import torch, reglab as rl
    >>> w = torch.nn.Parameter(torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
    >>> pen = rl.WassersteinInit([w], strength=1.0)
    >>> with torch.no_grad():
    ...     _ = w.copy_(torch.tensor([[4.0, 3.0], [2.0, 1.0]]))   # a permutation: no cost
    >>> pen().item()
    0.0
    >>> with torch.no_grad():
    ...     _ = w.add_(1.0)                                     # every sorted entry moved by 1
    >>> pen().item()
    4.0

Reference:
    Alex Lewandowski, Michał Bortkiewicz, Saurabh Kumar, András György, Dale Schuurmans,
    Mateusz Ostaszewski, Marlos C. Machado. Learning Continually by Spectral Regularization.
    arXiv:2406.06811 (its first version introduces the Wasserstein regularizer to the initial
    weight distribution; the ICLR 2025 version centres on the spectral one).

Traps:
    - No ½ and no division by the number of entries: the sum, as written above. Large layers
      weigh more; λ is not comparable with ``L2Init``'s (which has the ½).
    - Build it before training (or pass ``anchors=``), as ``L2Init``.
    - Each call sorts every selected tensor (O(n log n)); the anchors are sorted once.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from reglab._core.registry import Family, Kind, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.schedules import Schedule
from reglab._core.selection import Selection
from reglab.penalties._anchor import AnchorPenalty, Anchors
from reglab.penalties._foreach import elementwise_norms
from reglab.penalties.spectral import SPECTRAL_REGULARIZATION


def wasserstein_init(params: list[torch.Tensor], sorted_anchors: list[torch.Tensor]) -> torch.Tensor:
    """Σ_t ‖sort(w_t) − a_t‖², ``a_t`` the sorted, flattened anchor of the t-th tensor."""
    if len(params) != len(sorted_anchors):
        raise ValueError(f"anchors must match params one to one, got {len(sorted_anchors)} for {len(params)}")
    ordered = [p.flatten().sort().values for p in params]
    return elementwise_norms(torch._foreach_sub(ordered, sorted_anchors), l1=0.0, l2=2.0)


def _sample(ctx: SampleContext) -> Sample:
    return Sample(
        kwargs={"params": ctx.model, "strength": 0.1},
        invalid=({"strength": -0.1}, {"params": []}, {"anchors": [torch.zeros(1)]}),
        identity={"strength": 0.0},
    )


@register(
    "wasserstein-init",
    family=Family.PARAMETER_PENALTY,
    kind=Kind.PENALTY,
    paper=SPECTRAL_REGULARIZATION,
    sample=_sample,
)
class WassersteinInit(AnchorPenalty):
    """λ Σ‖sort(w) − sort(w⁽⁰⁾)‖²; see ``reglab.card("wasserstein-init")``."""

    def __init__(
        self,
        params: Selection | nn.Module | Iterable[torch.Tensor],
        strength: float | Schedule = 1e-4,
        anchors: Anchors = None,
    ) -> None:
        super().__init__(params, strength, anchors)

    def _resolve(self, anchors: Anchors) -> list[torch.Tensor]:
        return [a.flatten().sort().values for a in super()._resolve(anchors)]

    def value(self, params: list[torch.Tensor]) -> torch.Tensor:
        return wasserstein_init(params, self.anchors())
