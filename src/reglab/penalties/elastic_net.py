"""Elastic-net penalty: a mix of L1 and half squared L2 on the selected weights.

Equation::

    R(w) = λ · Σ_t ( ρ ‖w_t‖₁ + (1 − ρ)/2 ‖w_t‖²₂ )

ρ = ``l1_ratio`` interpolates between L2 (ρ = 0, as ``reglab.L2``) and L1 (ρ = 1, as
``reglab.L1``). This is scikit-learn's ``ElasticNet`` penalty with ``alpha`` = λ. Its gradient is
λ(ρ·sign(w) + (1 − ρ)·w), computed in one fused foreach pass.

Arguments:
    params: a selection (``reglab.select``), a module (its "weights" selection: no biases,
        norm layers or embeddings) or an iterable of tensors; at least one tensor, all finite.
    strength: λ >= 0, a float or a ``reglab.schedules`` schedule.
    l1_ratio: ρ in [0, 1].

Returns:
    ``forward()`` returns a scalar tensor, λ·R(w), in the parameters' dtype.

Example:
    >>> import torch, reglab as rl
    >>> w = torch.tensor([[1.0, -2.0], [0.0, 3.0]])
    >>> rl.ElasticNet([w], strength=0.1, l1_ratio=0.5)()   # 0.1·(0.5·6 + 0.25·14)
    tensor(0.6500)

Reference:
    Rahul Parhi, Robert D. Nowak. Deep Learning Meets Sparse Regularization: A Signal Processing
    Perspective. IEEE Signal Processing Magazine, 2023. arXiv:2301.09554 (weight decay and sparse
    regularization of neural networks). The elastic net itself is due to Zou and Hastie (2005).

Applied inside the optimizer step instead of the loss: ``pen.attach(optimizer)`` adds
λ·(ρ·sign(w) + (1 − ρ)·w) to the gradients before each ``optimizer.step()``; ``pen()`` then returns
the value detached, to log.

Traps:
    - scikit-learn writes the L2 part as ½·α·(1 − ρ)‖w‖², with the ½; so does this penalty, so the
      L2 coefficient of the gradient is λ(1 − ρ), as in ``torch.optim.SGD``'s weight_decay.
    - Like ``reglab.L1``, the L1 part does not give exact zeros under (sub)gradient descent.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from reglab._core.registry import Family, Kind, Paper, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.schedules import Schedule
from reglab._core.selection import Selection
from reglab._core.validation import check_number
from reglab.penalties._base import ParameterPenalty
from reglab.penalties._foreach import add_elementwise_norms_gradient_, elementwise_norms

SPARSE_REGULARIZATION = Paper(
    authors="Rahul Parhi, Robert D. Nowak",
    title="Deep Learning Meets Sparse Regularization: A Signal Processing Perspective",
    year=2023,
    arxiv="2301.09554",
)


def elastic_net(params: list[torch.Tensor], l1_ratio: float = 0.5) -> torch.Tensor:
    """Σ_t ρ‖w_t‖₁ + (1 − ρ)/2 ‖w_t‖²₂ with ρ = ``l1_ratio`` in [0, 1], in one fused pass."""
    ratio = check_number("l1_ratio", l1_ratio, low=0.0, high=1.0)
    return elementwise_norms(params, l1=ratio, l2=1.0 - ratio)


def _sample(ctx: SampleContext) -> Sample:
    return Sample(
        kwargs={"params": ctx.model, "strength": 0.1, "l1_ratio": 0.3},
        invalid=(
            {"strength": -0.1}, {"l1_ratio": 1.5}, {"l1_ratio": -0.1}, {"l1_ratio": "half"},
            {"params": []},
        ),
        identity={"strength": 0.0},
    )


@register(
    "elastic-net",
    family=Family.PARAMETER_PENALTY,
    kind=Kind.PENALTY,
    paper=SPARSE_REGULARIZATION,
    sample=_sample,
)
class ElasticNet(ParameterPenalty):
    """λ·Σ(ρ‖w‖₁ + (1−ρ)/2‖w‖²); see the module docstring (``reglab.card("elastic-net")``)."""

    def __init__(
        self,
        params: Selection | nn.Module | Iterable[torch.Tensor],
        strength: float | Schedule = 1e-4,
        l1_ratio: float = 0.5,
    ) -> None:
        super().__init__(params, strength)
        self.l1_ratio = check_number("l1_ratio", l1_ratio, low=0.0, high=1.0)

    def value(self, params: list[torch.Tensor]) -> torch.Tensor:
        return elastic_net(params, self.l1_ratio)

    def scaled_value(self, params: list[torch.Tensor], lam: float) -> torch.Tensor:
        ratio = self.l1_ratio  # λ inside: no extra op or node
        return elementwise_norms(params, l1=lam * ratio, l2=lam * (1.0 - ratio))

    def add_gradient_(self, params: list[torch.Tensor], grads: list[torch.Tensor], lam: float) -> None:
        ratio = self.l1_ratio  # grads += λ·(ρ·sign(w) + (1 − ρ)·w)
        add_elementwise_norms_gradient_(grads, params, l1=lam * ratio, l2=lam * (1.0 - ratio))

    def extra_repr(self) -> str:
        return f"l1_ratio={self.l1_ratio}, {super().extra_repr()}"
