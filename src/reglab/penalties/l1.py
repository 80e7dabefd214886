"""L1 penalty: the sum of absolute values of the selected weights, added to the loss.

Equation::

    R(w) = λ · Σ_t ‖w_t‖₁          (sum over the selected tensors t)

Its (sub)gradient is λ·sign(w), with 0 at w = 0. Added to the loss and followed by SGD or Adam,
it shrinks weights towards zero but almost never makes them exactly zero: they oscillate
around it. For exact zeros use the proximal form, ``reglab.ProximalL1`` (soft-thresholding
after each optimizer step). "Sparse then Prune" fine-tunes with this penalty, then removes the
smallest weights by magnitude.

Arguments:
    params: a selection (``reglab.select``), a module (its "weights" selection: no biases,
        norm layers or embeddings) or an iterable of tensors; at least one tensor, all finite.
    strength: λ >= 0, a float or a ``reglab.schedules`` schedule.

Returns:
    ``forward()`` returns a scalar tensor, λ·R(w), in the parameters' dtype.

Example:
    >>> import torch, reglab as rl
    >>> model = torch.nn.Linear(3, 2)
    >>> pen = rl.L1(model, strength=1e-3)
    >>> loss = pen()          # add to the task loss: loss = task_loss + pen()
    >>> bool(torch.isclose(loss, 1e-3 * model.weight.abs().sum()))
    True

Reference:
    Yogi Prasetyo, Novanto Yudistira, Agus Wahyu Widodo. Sparse then Prune: Toward Efficient
    Vision Transformers. 2023. arXiv:2307.11988 (L1 "sparse regularization" before magnitude
    pruning).

Applied inside the optimizer step instead of the loss: ``pen.attach(optimizer)`` adds λ·sign(w) to
the gradients before each ``optimizer.step()`` (no value, no autograd node); ``pen()`` then
returns the value detached, to log.

Traps:
    - The penalty does not produce exact zeros under (sub)gradient descent; prune by magnitude
      afterwards (as the paper does) or use ``reglab.ProximalL1``.
    - Under Adam the gradient λ·sign(w) is divided by the running RMS of the gradient, so the
      effective shrinkage differs from λ·lr; the proximal form keeps it at λ·lr.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from reglab._core.registry import Family, Kind, Paper, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.schedules import Schedule
from reglab._core.selection import Selection
from reglab.penalties._base import ParameterPenalty
from reglab.penalties._foreach import add_elementwise_norms_gradient_, elementwise_norms

SPARSE_THEN_PRUNE = Paper(
    authors="Yogi Prasetyo, Novanto Yudistira, Agus Wahyu Widodo",
    title="Sparse then Prune: Toward Efficient Vision Transformers",
    year=2023,
    arxiv="2307.11988",
)


def l1(params: list[torch.Tensor]) -> torch.Tensor:
    """Σ_t ‖w_t‖₁ over a list of tensors: one fused norm forward, one foreach backward."""
    return elementwise_norms(params, l1=1.0, l2=0.0)


def _sample(ctx: SampleContext) -> Sample:
    return Sample(
        kwargs={"params": ctx.model, "strength": 0.1},
        invalid=(
            {"strength": -0.1}, {"strength": float("inf")}, {"params": []},
            {"params": [torch.full((2, 2), float("nan"))]},
        ),
        identity={"strength": 0.0},
    )


@register(
    "l1",
    family=Family.PARAMETER_PENALTY,
    kind=Kind.PENALTY,
    paper=SPARSE_THEN_PRUNE,
    sample=_sample,
)
class L1(ParameterPenalty):
    """λ · Σ‖w‖₁ over a parameter selection; see the module docstring (``reglab.card("l1")``)."""

    def __init__(
        self,
        params: Selection | nn.Module | Iterable[torch.Tensor],
        strength: float | Schedule = 1e-4,
    ) -> None:
        super().__init__(params, strength)

    def value(self, params: list[torch.Tensor]) -> torch.Tensor:
        return l1(params)

    def scaled_value(self, params: list[torch.Tensor], lam: float) -> torch.Tensor:
        return elementwise_norms(params, l1=lam, l2=0.0)  # λ inside: no extra op or node

    def add_gradient_(self, params: list[torch.Tensor], grads: list[torch.Tensor], lam: float) -> None:
        add_elementwise_norms_gradient_(grads, params, l1=lam, l2=0.0)  # grads += λ·sign(w)
