"""Strength schedules (public): any strength argument accepts a float or one of these.

See :mod:`reglab._core.schedules` for the definitions.
"""

from reglab._core.schedules import (
    Constant,
    Cosine,
    Linear,
    Piecewise,
    QuadraticWarmup,
    Schedule,
    Strength,
    constant,
    cosine,
    early,
    late,
    linear,
    quadratic_warmup,
    step,
)

__all__ = [
    "Constant", "Cosine", "Linear", "Piecewise", "QuadraticWarmup", "Schedule", "Strength",
    "constant", "cosine", "early", "late", "linear", "quadratic_warmup", "step",
]
