"""The base optimizer of a run: SGD, Adam or AdamW with its hyperparameters, as data.

A task names a default; a recipe and a claim may override any field. Optimizer wrappers named
in a recipe (SAM, ⊥Grad, ...) wrap the optimizer built from this spec.

>>> import torch
>>> spec = OptimizerSpec(name="sgd", lr=0.1, momentum=0.9)
>>> type(spec.build(torch.nn.Linear(2, 2).parameters())).__name__
'SGD'
>>> OptimizerSpec(name="adam", momentum=0.9)
Traceback (most recent call last):
...
ValueError: optimizer.momentum applies to sgd only, got 0.9 for adam (use optimizer.betas)
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

import torch

from reglab._core.validation import check_choice, check_number


class OptimizerName(StrEnum):
    """The base optimizers: ``torch.optim.SGD``, ``Adam`` and ``AdamW``."""

    SGD = "sgd"
    ADAM = "adam"
    ADAMW = "adamw"


class LRSchedule(StrEnum):
    """``constant``, or ``cosine``: lr·½(1 + cos(π (t−1−W)/(T−W))) at step t > W of T (per step,
    to 0), after W = round(warmup·T) steps of linear warm-up lr·t/W (warm-up applies to both)."""

    CONSTANT = "constant"
    COSINE = "cosine"


@dataclass(frozen=True)
class OptimizerSpec:
    """name; lr > 0; weight_decay >= 0 (decoupled for adamw, L2-coupled for sgd/adam, as in
    torch.optim); momentum in [0, 1) and nesterov for sgd; betas in [0, 1) and eps > 0 for
    adam/adamw; schedule of the learning rate over the run, after a linear warm-up over the
    fraction ``warmup`` in [0, 1) of the steps."""

    name: OptimizerName = OptimizerName.ADAMW
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.0
    nesterov: bool = False
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    schedule: LRSchedule = LRSchedule.CONSTANT
    warmup: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", check_choice("optimizer.name", self.name, OptimizerName))
        object.__setattr__(
            self, "schedule", check_choice("optimizer.schedule", self.schedule, LRSchedule)
        )
        check_number("optimizer.eps", self.eps, low=0, low_open=True)
        check_number("optimizer.warmup", self.warmup, low=0, high=1, high_open=True)
        if not isinstance(self.nesterov, bool):
            raise TypeError(f"optimizer.nesterov must be true or false, got {self.nesterov!r}")
        if self.nesterov and (self.name is not OptimizerName.SGD or self.momentum == 0):
            raise ValueError("optimizer.nesterov needs optimizer.name sgd with momentum > 0")
        check_number("optimizer.lr", self.lr, low=0, low_open=True)
        check_number("optimizer.weight_decay", self.weight_decay, low=0)
        check_number("optimizer.momentum", self.momentum, low=0, high=1, high_open=True)
        if not isinstance(self.betas, (tuple, list)) or len(self.betas) != 2:
            raise ValueError(f"optimizer.betas must be two numbers in [0, 1), got {self.betas!r}")
        for b in self.betas:
            check_number("optimizer.betas", b, low=0, high=1, high_open=True)
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))
        if self.momentum and self.name is not OptimizerName.SGD:
            raise ValueError(
                f"optimizer.momentum applies to sgd only, got {self.momentum:g} for "
                f"{self.name.value} (use optimizer.betas)"
            )

    def build(self, params: Iterable[torch.Tensor]) -> torch.optim.Optimizer:
        if self.name is OptimizerName.SGD:
            return torch.optim.SGD(
                params,
                lr=self.lr,
                momentum=self.momentum,
                nesterov=self.nesterov,
                weight_decay=self.weight_decay,
            )
        cls = torch.optim.Adam if self.name is OptimizerName.ADAM else torch.optim.AdamW
        return cls(
            params, lr=self.lr, betas=self.betas, eps=self.eps, weight_decay=self.weight_decay
        )

    def lr_at(self, step: int, total_steps: int) -> float:
        """The learning rate of step ``step`` (1-based) of ``total_steps``."""
        warm = round(self.warmup * total_steps)
        if step <= warm:
            return self.lr * step / warm
        if self.schedule is LRSchedule.CONSTANT:
            return self.lr
        return self.lr * 0.5 * (1 + math.cos(math.pi * (step - 1 - warm) / (total_steps - warm)))
