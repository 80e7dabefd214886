"""L2 penalty: half the squared Euclidean norm of the selected weights, added to the loss.

Equation::

    R(w) = λ · ½ Σ_t ‖w_t‖²₂          (sum over the selected tensors t)

Its gradient is λ·w, so with plain SGD it equals weight decay w ← w − ηλw. With adaptive
optimizers (Adam) it does not: the gradient λw is rescaled per coordinate. For decay that is
decoupled from the gradient use ``reglab.DecoupledWeightDecay`` (Loshchilov & Hutter).

Arguments:
    params: a selection (``reglab.select``), a module (its "weights" selection: no biases,
        norm layers or embeddings) or an iterable of tensors; must select at least one tensor.
    strength: λ >= 0, a float or a ``reglab.schedules`` schedule.

Returns:
    ``forward()`` returns a scalar tensor, λ·R(w), in the parameters' dtype.

Example:
    >>> import torch, reglab as rl
    >>> model = torch.nn.Linear(3, 2)
    >>> pen = rl.L2(model, strength=1e-2)
    >>> loss = pen()          # add to the task loss: loss = task_loss + pen()
    >>> bool(torch.isclose(loss, 0.5e-2 * model.weight.pow(2).sum()))
    True

Reference:
    Ilya Loshchilov, Frank Hutter. Decoupled Weight Decay Regularization. ICLR 2019.
    arXiv:1711.05101 (section 2: L2 regularization and weight decay are not identical for Adam).

Applied inside the optimizer step instead of the loss: ``pen.attach(optimizer)`` adds λ·w to the
gradients before each ``optimizer.step()`` (no value, no autograd node), at the cost of SGD's
``weight_decay``; ``pen()`` then returns the value detached, to log.

Traps:
    - The ½ factor: λ here is the coefficient of the gradient λw, as in ``torch.optim.SGD``'s
      ``weight_decay``; some papers write λ‖w‖² without it.
    - ``torch.optim.AdamW``'s ``weight_decay`` is multiplied by the learning rate, unlike the
      paper's schedule multiplier η_t alone.
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

DECOUPLED_WEIGHT_DECAY = Paper(
    authors="Ilya Loshchilov, Frank Hutter",
    title="Decoupled Weight Decay Regularization",
    year=2019,
    arxiv="1711.05101",
)


def l2(params: list[torch.Tensor]) -> torch.Tensor:
    """½ Σ_t ‖w_t‖²₂ over a list of tensors: one fused norm forward, one foreach backward."""
    return elementwise_norms(params, l1=0.0, l2=1.0)


def _sample(ctx: SampleContext) -> Sample:
    return Sample(
        kwargs={"params": ctx.model, "strength": 0.1},
        invalid=(
            {"strength": -0.1}, {"strength": float("nan")}, {"params": []},
            {"params": [torch.full((2, 2), float("nan"))]},
        ),
        identity={"strength": 0.0},
    )


@register(
    "l2",
    family=Family.PARAMETER_PENALTY,
    kind=Kind.PENALTY,
    paper=DECOUPLED_WEIGHT_DECAY,
    sample=_sample,
)
class L2(ParameterPenalty):
    """λ · ½ Σ‖w‖² over a parameter selection; see the module docstring (``reglab.card("l2")``)."""

    def __init__(
        self,
        params: Selection | nn.Module | Iterable[torch.Tensor],
        strength: float | Schedule = 1e-4,
    ) -> None:
        super().__init__(params, strength)

    def value(self, params: list[torch.Tensor]) -> torch.Tensor:
        return l2(params)

    def scaled_value(self, params: list[torch.Tensor], lam: float) -> torch.Tensor:
        return elementwise_norms(params, l1=0.0, l2=lam)  # λ inside: no extra op or node

    def add_gradient_(self, params: list[torch.Tensor], grads: list[torch.Tensor], lam: float) -> None:
        add_elementwise_norms_gradient_(grads, params, l1=0.0, l2=lam)  # grads += λ·w
