"""The kinds a claim's check can be, as Enums: what it compares, against which threshold, and the
``over_grid`` summaries (one number from a seed's values of a grid of arms).

The members are strings equal to the words of ``claims.yaml`` (``above: 0.1`` is
``Threshold.ABOVE``), so the stored results and the messages read as before.

>>> Compare.LEVEL == "level", str(Threshold.WITHIN), GridSummary("range").takes_rows
(True, 'within', False)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import StrEnum


class Compare(StrEnum):
    """What a check's number is: one arm's measure, or a difference / ratio of two arms'."""

    LEVEL = "level"  # the YAML's ``arm: A`` (a computed claim's ``value: NAME``)
    DIFFERENCE = "difference"
    RATIO = "ratio"

    @property
    def sign(self) -> str:
        """The sign between a comparison's two sides in a check's text (none for a level)."""
        return {Compare.LEVEL: "", Compare.DIFFERENCE: "−", Compare.RATIO: "/"}[self]


class Threshold(StrEnum):
    """How a check's interval is held against its value (``reglab.bench.stats.judge``)."""

    ABOVE = "above"
    BELOW = "below"
    WITHIN = "within"  # a difference within ±value


class GridSummary(StrEnum):
    """``over_grid``: one number from a seed's values of the arms of a grid."""

    RANGE = "range"  # max − min: the sensitivity to the strength
    MIN = "min"
    MAX = "max"
    MEAN = "mean"
    ARGMAX_SPREAD = "argmax_spread"  # a 2-D grid (rows of arms): see ``argmax_spread``

    @property
    def takes_rows(self) -> bool:
        """Whether it summarizes a 2-D grid (a list of rows of arms) rather than a list of arms."""
        return self in GRID_ROW_SUMMARIES


def argmax_spread(rows: list[list[float]]) -> float:
    """max − min over the rows of the column of each row's largest value (ties: the mean of the
    tied columns), in grid steps.

    >>> argmax_spread([[0.1, 0.9, 0.2], [0.5, 0.4, 0.8], [0.3, 0.3, 0.1]])
    1.5
    """
    best = []
    for row in rows:
        top = max(row)
        tied = [j for j, v in enumerate(row) if v == top]
        best.append(sum(tied) / len(tied))
    return max(best) - min(best)


# over_grid: one number from the values of a grid's arms at one seed
GRID_SUMMARIES: dict[GridSummary, Callable[[Sequence[float]], float]] = {
    GridSummary.RANGE: lambda v: max(v) - min(v),
    GridSummary.MIN: min,
    GridSummary.MAX: max,
    GridSummary.MEAN: lambda v: sum(v) / len(v),
}
# over_grid on a 2-D grid (rows of arms): one number from a seed's rows of values
GRID_ROW_SUMMARIES: dict[GridSummary, Callable[[list[list[float]]], float]] = {
    GridSummary.ARGMAX_SPREAD: argmax_spread,
}
