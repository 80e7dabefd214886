"""L2-init penalty: pull the weights back towards their values at initialization.

Equation::

    R(w) = λ · ½ Σ_t ‖w_t − w_t⁽⁰⁾‖²₂

w⁽⁰⁾ is a copy of the selected weights taken when the penalty is built (before training), or
tensors you give. Unlike L2 (towards 0) it keeps the network near a point known to be trainable,
which is how it counters loss of plasticity in continual learning. The gradient is λ(w − w⁽⁰⁾).

Arguments:
    params: a selection (``reglab.select``), a module (its "weights" selection: no biases, norm
        layers or embeddings) or an iterable of tensors; at least one tensor, all finite.
    strength: λ >= 0, a float or a ``reglab.schedules`` schedule.
    anchors: ``None`` (snapshot now), a sequence of tensors in the selection's order, or a mapping
        from the selection's parameter names to tensors (e.g. a saved ``state_dict()``).

Returns:
    ``forward()`` returns a scalar tensor, λ·R(w), in the parameters' dtype.

Example:
    >>> import torch, reglab as rl
    >>> model = torch.nn.Linear(3, 2)
    >>> pen = rl.L2Init(model, strength=0.1)     # build before training: anchors = initial weights
    >>> pen().item()
    0.0
    >>> with torch.no_grad():
    ...     _ = model.weight.add_(1.0)
    >>> round(pen().item(), 4)                   # 0.1 · ½ · 6 entries · 1²
    0.3

Reference:
    Shibhansh Dohare, J. Fernando Hernandez-Garcia, Qingfeng Lan, Parash Rahman, A. Rupam
    Mahmood, Richard S. Sutton. Loss of Plasticity in Deep Continual Learning. Nature 632, 2024.
    arXiv:2306.13812 (L2 and L2 towards the initial weights as plasticity baselines).

Traps:
    - Build the penalty before training starts (or pass ``anchors=``): a snapshot taken later
      anchors to trained weights, which is L2-SP, not L2-init.
    - The ½ factor, as in ``reglab.L2``: the gradient coefficient is λ. Some papers write
      λ‖w − w⁽⁰⁾‖² without it.
    - The anchors are buffers on the parameters' device: move the model before building the
      penalty, or move the penalty with ``.to(...)`` too.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from reglab._core.registry import Family, Kind, Paper, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.schedules import Schedule
from reglab._core.selection import Selection
from reglab.penalties._anchor import AnchorPenalty, Anchors, add_anchor_gradient_

LOSS_OF_PLASTICITY = Paper(
    authors="Shibhansh Dohare, J. Fernando Hernandez-Garcia, Qingfeng Lan, Parash Rahman, "
    "A. Rupam Mahmood, Richard S. Sutton",
    title="Loss of Plasticity in Deep Continual Learning",
    year=2024,
    arxiv="2306.13812",
)


def _sample(ctx: SampleContext) -> Sample:
    return Sample(
        kwargs={"params": ctx.model, "strength": 0.1},
        invalid=(
            {"strength": -0.1}, {"params": []}, {"anchors": [torch.zeros(1)]},
            {"anchors": torch.zeros(2)},
        ),
        identity={"strength": 0.0},
    )


@register(
    "l2-init",
    family=Family.PARAMETER_PENALTY,
    kind=Kind.PENALTY,
    paper=LOSS_OF_PLASTICITY,
    sample=_sample,
)
class L2Init(AnchorPenalty):
    """λ · ½ Σ‖w − w⁽⁰⁾‖² towards the initial weights; see ``reglab.card("l2-init")``."""

    def __init__(
        self,
        params: Selection | nn.Module | Iterable[torch.Tensor],
        strength: float | Schedule = 1e-4,
        anchors: Anchors = None,
    ) -> None:
        super().__init__(params, strength, anchors)

    def add_gradient_(self, params: list[torch.Tensor], grads: list[torch.Tensor], lam: float) -> None:
        add_anchor_gradient_(grads, params, self.anchors(), lam)  # grads += λ·(w − w₀)
