"""Strength schedules (public): any strength argument accepts a float or one of these.

See :mod:`reglab._core.schedules` for the definitions.
"""

from reglab._core.schedules import (
    Constant,
    Cosine,
    Linear,
    Piecewise,
    Schedule,
    Strength,
    constant,
    cosine,
    early,
    late,
    linear,
    step,
)

__all__ = [
    "Constant", "Cosine", "Linear", "Piecewise", "Schedule", "Strength",
    "constant", "cosine", "early", "late", "linear", "step",
]
