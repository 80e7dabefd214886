"""Constructor argument checks: the one place that words errors about bad hyperparameters.

Every error names the argument, the value and the valid range, e.g.
``ValueError: strength must be >= 0, got -0.1``. Methods call these helpers in ``__init__`` and
never use ``assert`` for user input.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable
from enum import Enum
from typing import TypeVar

import torch

from reglab._core.schedules import Schedule

E = TypeVar("E", bound=Enum)


def _interval(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f"{'<' if high_open else '<='} {high:g}"
    return ""


def _inside(v: float, low: float | None, high: float | None, low_open: bool, high_open: bool) -> bool:
    if low is not None and (v <= low if low_open else v < low):
        return False
    return not (high is not None and (v >= high if high_open else v > high))


def check_number(
    name: str,
    value: object,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a float, or raise naming ``name``, ``value`` and the valid range.

    >>> check_number("strength", 0.5, low=0)
    0.5
    >>> check_number("strength", -0.1, low=0)
    Traceback (most recent call last):
    ...
    ValueError: strength must be >= 0, got -0.1
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be a finite number {_interval(low, high, low_open, high_open)}, got {value!r}")
    if not _inside(v, low, high, low_open, high_open):
        raise ValueError(f"{name} must be {_interval(low, high, low_open, high_open)}, got {value!r}")
    return v


def check_probability(
    name: str, value: object, *, low_open: bool = False, high_open: bool = False
) -> float:
    """A probability: ``value`` in [0, 1] as a float, either end excluded on request.

    A probability of applying something (Mixup's ``p``) may be 1; a drop probability that is
    followed by the 1/(1 − p) rescale may not, so dropout-like layers pass ``high_open=True``.

    >>> check_probability("p", 1.0)
    1.0
    >>> check_probability("p", 1.0, high_open=True)
    Traceback (most recent call last):
    ...
    ValueError: p must be in [0, 1), got 1.0
    """
    return check_number(name, value, low=0.0, high=1.0, low_open=low_open, high_open=high_open)


def check_int(name: str, value: object, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as an int, or raise naming the argument and the valid range.

    >>> check_int("samples", 0, low=1)
    Traceback (most recent call last):
    ...
    ValueError: samples must be >= 1, got 0
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    check_number(name, value, low=low, high=high)
    return int(value)


def check_bool(name: str, value: object) -> bool:
    """``value`` if it is a bool, else ``TypeError`` naming the argument (no truthy strings or ints).

    >>> check_bool("per_sample", 1)
    Traceback (most recent call last):
    ...
    TypeError: per_sample must be a bool, got 1 (int)
    """
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {value!r} ({type(value).__name__})")
    return value


def check_generator(value: object, name: str = "generator") -> torch.Generator | None:
    """``value`` if it is a ``torch.Generator`` or ``None``, else ``TypeError`` naming the argument."""
    if value is not None and not isinstance(value, torch.Generator):
        raise TypeError(f"{name} must be a torch.Generator or None, got {type(value).__name__}")
    return value


def check_strength(
    name: str,
    value: object,
    *,
    low: float = 0.0,
    high: float | None = None,
    high_open: bool = False,
) -> float | Schedule:
    """Check a strength given as a float or a :class:`~reglab.schedules.Schedule`.

    A schedule is checked over its whole range of values, so ``early(1.5, until=10)`` is refused
    for an argument that must lie in [0, 1).

    >>> from reglab import schedules
    >>> check_strength("smoothing", schedules.early(1.5, until=10), high=1, high_open=True)
    Traceback (most recent call last):
    ...
    ValueError: smoothing must be in [0, 1) at every step, got a schedule reaching 1.5
    """
    if isinstance(value, Schedule):
        lo, hi = value.bounds()
        for v in (lo, hi):
            if not _inside(v, low, high, False, high_open):
                interval = _interval(low, high, False, high_open)
                raise ValueError(
                    f"{name} must be {interval} at every step, got a schedule reaching {v:g}"
                )
        return value
    return check_number(name, value, low=low, high=high, high_open=high_open)


def check_choice(name: str, value: object, enum: type[E]) -> E:
    """Convert ``value`` to a member of ``enum``; unknown values raise with the nearest names.

    >>> from reglab._core.registry import Kind
    >>> check_choice("kind", "penalty", Kind)
    <Kind.PENALTY: 'penalty'>
    >>> check_choice("kind", "penatly", Kind)
    Traceback (most recent call last):
    ...
    ValueError: kind must be one of activity, layer, loss, metric, optimizer, penalty, post_step, transform, tuner, weights; got 'penatly' (did you mean 'penalty'?)
    """
    if isinstance(value, enum):
        return value
    for member in enum:
        if value == member.value or value == member.name:
            return member
    names = sorted(str(m.value) for m in enum)
    raise ValueError(f"{name} must be one of {', '.join(names)}; got {value!r}{did_you_mean(str(value), names)}")


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A ``" (did you mean 'x'?)"`` suffix naming the closest choices, or ``""``."""
    close = difflib.get_close_matches(word, list(choices), n=3, cutoff=0.5)
    if not close:
        return ""
    return " (did you mean " + " or ".join(repr(c) for c in close) + "?)"
