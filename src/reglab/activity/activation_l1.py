"""Activation L1: the mean absolute activation of chosen modules, added to the loss.

Equation::

    R(a) = λ · Σ_m mean_{i,j} |a^m_ij|          (a^m: the activation of hooked module m)

The mean runs over every element of the activation (batch and features). It is the L1 baseline
of Paria et al. (their ℓ1 = Σ_j mean_i |a_ij| is this times the number of features); unlike
``flops`` it does not care how the non-zeros spread over features.

Arguments:
    model: the ``nn.Module`` to hook.
    modules: a module name of ``model`` (as in ``model.named_modules()``) or a list of them.
    strength: λ >= 0, a float or a ``reglab.schedules`` schedule.
    site: ``Site.OUTPUT`` (default) or ``Site.INPUT`` (the module's first positional input,
        e.g. the features entering a classifier head).

Returns:
    ``forward()`` returns a scalar tensor in the activations' dtype; a zero in eval mode.

Example:
    >>> import torch, reglab as rl
    >>> model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    >>> pen = rl.ActivationL1(model, modules=["1"], strength=0.1)
    >>> x = torch.randn(5, 3)
    >>> out = model(x)
    >>> bool(torch.isclose(pen(), 0.1 * model[1](model[0](x)).abs().mean()))
    True
    >>> pen.remove()

Reference:
    Biswajit Paria, Chih-Kuan Yeh, Ian E.H. Yen, Ning Xu, Pradeep Ravikumar, Barnabás Póczos.
    Minimizing FLOPs to Learn Efficient Sparse Representations. ICLR 2020. arXiv:2004.05665.

Traps:
    - A module that runs twice before the penalty is called (two views through one encoder)
      contributes its last run only: concatenate the views into one batch to penalize both.
    - The mean, not the sum: λ does not grow with the width or batch size.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from reglab._core.registry import Family, Kind, Paper, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.schedules import Schedule
from reglab.activity._base import ActivityPenalty, Site

FLOPS_PAPER = Paper(
    authors="Biswajit Paria, Chih-Kuan Yeh, Ian E.H. Yen, Ning Xu, Pradeep Ravikumar, Barnabás Póczos",
    title="Minimizing FLOPs to Learn Efficient Sparse Representations",
    year=2020,
    arxiv="2004.05665",
)


def activation_l1(a: torch.Tensor) -> torch.Tensor:
    """mean |a| over every element of ``a``."""
    return a.abs().mean()


def activity_sample(*, signed: bool = False, invalid: tuple = (), **kwargs: object) -> object:
    """A ``sample`` function for an activity penalty hooking the sample MLP's ReLU (module "1").

    ``signed``: the strength may be negative (VNE), so -0.1 is not among the invalid arguments.
    """

    def sample(ctx: SampleContext) -> Sample:
        bad = ({"strength": float("nan")}, {"modules": ["nope"]}, {"modules": []},
               {"site": "middle"}, *invalid)
        return Sample(
            kwargs={"model": ctx.model, "modules": ["1"], "strength": 0.1, **kwargs},
            inputs=(ctx.model, ctx.x),
            invalid=bad if signed else ({"strength": -0.1}, *bad),
            identity={"strength": 0.0},
        )

    return sample


@register(
    "activation-l1", family=Family.ACTIVITY, kind=Kind.ACTIVITY, paper=FLOPS_PAPER,
    sample=activity_sample(),  # type: ignore[arg-type]
)
class ActivationL1(ActivityPenalty):
    """λ · mean |a| over hooked activations; see the module docstring (``reglab.card("activation-l1")``)."""

    def __init__(
        self,
        model: nn.Module,
        modules: str | Sequence[str],
        strength: float | Schedule = 1e-4,
        *,
        site: Site | str = Site.OUTPUT,
    ) -> None:
        super().__init__(model, modules, strength, site=site)

    def value(self, a: torch.Tensor) -> torch.Tensor:
        return activation_l1(a)
