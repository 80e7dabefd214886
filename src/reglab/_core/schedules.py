"""Strength schedules: a strength argument accepts a float or one of these.

A schedule maps the method's step counter ``t`` (0, 1, 2, ...) to a value. Schedules are frozen
hyperparameters; the counter lives in the method's ``state_dict()`` (see :class:`Strength`), so a
resumed run continues the schedule where it stopped.

>>> from reglab import schedules
>>> s = schedules.early(0.1, until=3)          # two-stage label smoothing (TSLA)
>>> [s(t) for t in range(5)]
[0.1, 0.1, 0.1, 0.0, 0.0]
>>> c = schedules.cosine(1.0, 0.0, steps=4)
>>> [round(c(t), 3) for t in range(6)]
[1.0, 0.854, 0.5, 0.146, 0.0, 0.0]
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn


class Schedule(ABC):
    """A value as a function of the step counter ``t >= 0``."""

    @abstractmethod
    def __call__(self, t: int) -> float: ...

    @abstractmethod
    def bounds(self) -> tuple[float, float]:
        """The smallest and largest value the schedule takes over all steps."""


def _check_steps(name: str, steps: int) -> None:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {steps!r}")


def _check_value(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Constant(Schedule):
    value: float

    def __post_init__(self) -> None:
        _check_value("value", self.value)

    def __call__(self, t: int) -> float:
        return float(self.value)

    def bounds(self) -> tuple[float, float]:
        return (float(self.value), float(self.value))


@dataclass(frozen=True)
class Linear(Schedule):
    """From ``start`` at t=0 to ``end`` at t=steps, then constant."""

    start: float
    end: float
    steps: int

    def __post_init__(self) -> None:
        _check_value("start", self.start)
        _check_value("end", self.end)
        _check_steps("steps", self.steps)

    def _fraction(self, t: int) -> float:
        return 1.0 if self.steps == 0 else min(max(t, 0), self.steps) / self.steps

    def __call__(self, t: int) -> float:
        return self.start + (self.end - self.start) * self._fraction(t)

    def bounds(self) -> tuple[float, float]:
        return (min(self.start, self.end), max(self.start, self.end))


@dataclass(frozen=True)
class Cosine(Linear):
    """From ``start`` to ``end`` along a half cosine over ``steps``, then constant."""

    def __call__(self, t: int) -> float:
        weight = 0.5 * (1.0 + math.cos(math.pi * self._fraction(t)))
        return self.end + (self.start - self.end) * weight


@dataclass(frozen=True)
class Piecewise(Schedule):
    """``values[i]`` while ``boundaries[i-1] <= t < boundaries[i]`` (piecewise constant)."""

    values: tuple[float, ...]
    boundaries: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.values) != len(self.boundaries) + 1:
            raise ValueError(
                f"values must have one more entry than boundaries, got {len(self.values)} values "
                f"and {len(self.boundaries)} boundaries"
            )
        for i, v in enumerate(self.values):
            _check_value(f"values[{i}]", v)
        for i, b in enumerate(self.boundaries):
            _check_steps(f"boundaries[{i}]", b)
        if list(self.boundaries) != sorted(self.boundaries):
            raise ValueError(f"boundaries must be increasing, got {list(self.boundaries)}")

    def __call__(self, t: int) -> float:
        i = sum(1 for b in self.boundaries if t >= b)
        return float(self.values[i])

    def bounds(self) -> tuple[float, float]:
        return (float(min(self.values)), float(max(self.values)))


def constant(value: float) -> Schedule:
    """The same value at every step."""
    return Constant(value)


def linear(start: float, end: float, steps: int) -> Schedule:
    """Linear ramp from ``start`` to ``end`` over ``steps`` steps, then ``end``."""
    return Linear(start, end, steps)


def cosine(start: float, end: float, steps: int) -> Schedule:
    """Half-cosine from ``start`` to ``end`` over ``steps`` steps, then ``end``."""
    return Cosine(start, end, steps)


def step(values: Sequence[float], boundaries: Sequence[int]) -> Schedule:
    """Piecewise constant: ``step([1.0, 0.1, 0.01], [60, 80])`` changes value at steps 60 and 80."""
    return Piecewise(tuple(values), tuple(boundaries))


def early(value: float, until: int) -> Schedule:
    """``value`` for ``t < until``, then 0 (early dropout, two-stage label smoothing)."""
    return Piecewise((value, 0.0), (until,))


def late(value: float, after: int) -> Schedule:
    """0 for ``t < after``, then ``value`` (late dropout)."""
    return Piecewise((0.0, value), (after,))


@dataclass(frozen=True)
class QuadraticWarmup(Schedule):
    """``value · min(t / steps, 1)²``: λ rising quadratically from 0, then constant (``steps=0``:
    constant). The warm-up of the FLOPS regularizer (Paria et al. 2020)."""

    value: float
    steps: int

    def __post_init__(self) -> None:
        _check_value("value", self.value)
        _check_steps("steps", self.steps)

    def __call__(self, t: int) -> float:
        frac = 1.0 if self.steps == 0 else min(max(t, 0), self.steps) / self.steps
        return float(self.value) * frac * frac

    def bounds(self) -> tuple[float, float]:
        ends = (0.0 if self.steps else float(self.value), float(self.value))
        return (min(ends), max(ends))


def quadratic_warmup(value: float, steps: int) -> Schedule:
    """λ rising as ``value · (t / steps)²`` over ``steps`` steps, then ``value`` (FLOPS' warm-up).

    In a recipe: ``strength: {schedule: quadratic_warmup, value: 0.01, steps: "20%"}``.
    """
    return QuadraticWarmup(value, steps)


class Strength(nn.Module):
    """A float or schedule together with its step counter, kept in ``state_dict()``.

    Methods own one as a submodule: ``self.strength = Strength(strength)``; read the value for the
    current step with ``self.strength()`` and move on with ``self.strength.advance()``.

    >>> s = Strength(linear(0.0, 1.0, steps=2))
    >>> s(), s.advance(), s(), s.advance(), s()
    (0.0, None, 0.5, None, 1.0)
    >>> dict(s.state_dict())
    {'step': tensor(2)}
    """

    step: torch.Tensor

    def __init__(self, value: float | Schedule) -> None:
        super().__init__()
        self.schedule: Schedule = value if isinstance(value, Schedule) else Constant(float(value))
        self.register_buffer("step", torch.zeros((), dtype=torch.long))

    def forward(self) -> float:
        return self.schedule(int(self.step))

    def advance(self) -> None:
        self.step.add_(1)  # in place, without `+=`'s module attribute write (a few µs a step)

    @property
    def always_zero(self) -> bool:
        """True when the strength is 0 at every step, so the method can skip its work."""
        return self.schedule.bounds() == (0.0, 0.0)

    def extra_repr(self) -> str:
        return repr(self.schedule)
