"""Dropout schedule: set the rate p of every dropout layer after each optimizer step (early / late dropout).

Equation (Liu et al. 2023)::

    p_t = schedule(t),   t = number of optimizer steps taken so far
    early dropout: p_t = p for t < T, then 0      (``schedules.early(p, until=T)``)
    late dropout:  p_t = 0 for t < T, then p      (``schedules.late(p, after=T)``)

The paper's early dropout may also decrease linearly to 0 (``schedules.linear(p, 0.0, T)``).
It sets ``p`` of every ``nn.Dropout``-family module (``nn.Dropout``, ``nn.Dropout1d/2d/3d``,
``nn.AlphaDropout``, ...) and of reglab's ``DropPath``, ``MultiSampleDropout`` and
``LargeDropout`` (stochastic depth is scheduled the same way in the paper). It is a post-step
hook: ``DropoutSchedule(model, schedule).attach(optimizer)``, or put it in a ``reglab.Recipe``.

Arguments:
    model: a module with at least one dropout layer.
    schedule: a float or ``reglab.schedules`` schedule with values in [0, 1) at every step.

Returns:
    Nothing; after each ``optimizer.step()`` the layers' ``p`` is ``schedule(t)``. The step counter
    is in ``state_dict()``; loading it sets the layers' rate for that step.

Example:
    >>> import torch, reglab as rl
    >>> model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Dropout(), torch.nn.Linear(8, 2))
    >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
    >>> hook = rl.DropoutSchedule(model, rl.schedules.early(0.1, until=2))
    >>> _ = hook.attach(opt)
    >>> rates = []
    >>> for _ in range(3):
    ...     rates.append(model[1].p)
    ...     opt.step()
    >>> rates
    [0.1, 0.1, 0.0]

Reference:
    Zhuang Liu, Zhiqiu Xu, Joseph Jin, Zhiqiang Shen, Trevor Darrell. Dropout Reduces
    Underfitting. ICML 2023. arXiv:2303.01500.

Traps:
    - The counter counts optimizer steps, not epochs: convert the paper's epochs with the number
      of steps per epoch.
    - Every dropout layer of ``model`` gets the same rate; apply it to a submodule to schedule
      only part of the model.
    - ``nn.MultiheadAttention`` keeps its attention dropout as a float, not a module: it is not
      scheduled (the dropout modules of ``nn.TransformerEncoderLayer`` are).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from reglab._core.registry import Family, Kind, Paper, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.schedules import Constant, Schedule, early
from reglab._core.validation import check_strength
from reglab.layers.drop_path import DropPath
from reglab.layers.large_dropout import LargeDropout
from reglab.layers.multi_sample_dropout import MultiSampleDropout
from reglab._core.post_step import PostStepHook

DROPOUT_REDUCES_UNDERFITTING = Paper(
    authors="Zhuang Liu, Zhiqiu Xu, Joseph Jin, Zhiqiang Shen, Trevor Darrell",
    title="Dropout Reduces Underfitting",
    year=2023,
    arxiv="2303.01500",
)

_SCHEDULED = (nn.modules.dropout._DropoutNd, DropPath, MultiSampleDropout, LargeDropout)


def _sample(ctx: SampleContext) -> Sample:
    return Sample(
        kwargs={"model": nn.Sequential(ctx.model, nn.Dropout(0.5)), "schedule": early(0.5, until=1)},
        invalid=({"schedule": 1.0}, {"schedule": -0.1}, {"schedule": early(1.5, until=2)},
                 {"model": nn.Linear(2, 2)}, {"model": "net"}),
        identity={"schedule": 0.0},
    )


@register(
    "dropout-schedule",
    family=Family.LAYER,
    kind=Kind.POST_STEP,
    paper=DROPOUT_REDUCES_UNDERFITTING,
    sample=_sample,
)
class DropoutSchedule(PostStepHook):
    """Scheduled dropout rate for every dropout layer; see ``reglab.card("dropout-schedule")``."""

    def __init__(self, model: nn.Module, schedule: float | Schedule) -> None:
        super().__init__()
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
        value = check_strength("schedule", schedule, high=1.0, high_open=True)
        self.schedule: Schedule = value if isinstance(value, Schedule) else Constant(value)
        self.layers = [m for m in model.modules() if isinstance(m, _SCHEDULED)]
        if not self.layers:
            raise ValueError(
                f"model ({type(model).__name__}) has no dropout layers for DropoutSchedule to set"
            )
        self.step = 0
        self._set_rate()

    def _set_rate(self) -> None:
        p = float(self.schedule(self.step))
        for layer in self.layers:
            layer.p = p

    def after_step(self, optimizer: torch.optim.Optimizer) -> None:
        self.step += 1
        self._set_rate()

    def state_dict(self) -> dict[str, Any]:
        return {"step": self.step}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if set(state_dict) != {"step"}:
            raise ValueError(f"DropoutSchedule state has the key 'step', got keys {sorted(state_dict)}")
        self.step = int(state_dict["step"])
        self._set_rate()

    def __repr__(self) -> str:
        return f"DropoutSchedule({self.schedule!r}, layers={len(self.layers)}, step={self.step})"
