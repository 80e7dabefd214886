"""Parsing one check of a claim (``checks:`` in ``claims.yaml``, described in
``reglab.bench.claims``) into a ``reglab.bench.claim_spec.Check``: a measure on one arm, a
difference or ratio of two, ``over_seeds`` of one arm or a difference, or ``over_grid`` of one
grid or a difference of two. Every name is checked against the claim's arms.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from reglab._core.validation import did_you_mean
from reglab.bench._config import check_keys
from reglab.bench.claim_kinds import (
    GRID_ROW_SUMMARIES,
    GRID_SUMMARIES,
    Compare,
    GridSummary,
    Threshold,
)
from reglab.bench.claim_spec import Check, is_over_seeds
from reglab.bench.measures import Measure

CHECK_KEYS = (
    "measure", "over_seeds", "over_grid", "arm", "difference", "ratio", "above", "below", "within"
)


def parse_check(raw: object, arms: Collection[str], where: str) -> Check:
    """One check from its YAML mapping; ``arms`` are the claim's arm names (trained and merged)."""
    d = check_keys(raw, CHECK_KEYS, where)
    if "measure" not in d:
        raise ValueError(f"{where}: a check needs 'measure'")
    compares = [k for k in ("arm", "difference", "ratio") if k in d]
    thresholds = [t for t in Threshold if t in d]
    if len(compares) != 1 or len(thresholds) != 1:
        raise ValueError(f"{where}: give one of arm/difference/ratio and one of above/below/within")
    key = compares[0]  # arm (a level), difference or ratio
    compare = Compare.LEVEL if key == "arm" else Compare(key)
    threshold = thresholds[0]
    if "over_grid" in d:
        return _grid_check(d, arms, where, key, compare, threshold)
    names = (d["arm"],) if compare is Compare.LEVEL else tuple(d[key])
    if len(names) != (1 if compare is Compare.LEVEL else 2):
        raise ValueError(
            f"{where}: {key} needs "
            f"{'one arm' if compare is Compare.LEVEL else 'two arms [treatment, baseline]'}"
        )
    for name in names:
        _known_arm(name, arms, where)
    if threshold is Threshold.WITHIN and compare is not Compare.DIFFERENCE:
        raise ValueError(f"{where}: 'within' applies to a difference")
    over = d.get("over_seeds")
    if over is not None:
        if not is_over_seeds(over):
            raise ValueError(f"{where}: over_seeds must be std or fraction_below(V), got {over!r}")
        if compare is Compare.RATIO:
            raise ValueError(f"{where}: over_seeds applies to one arm or a difference")
    return Check(
        Measure.parse(d["measure"]),
        names,
        compare,
        threshold,
        _threshold_value(d, threshold, where),
        None if over is None else str(over),
    )


def _known_arm(name: object, arms: Collection[str], where: str) -> None:
    if name not in arms:
        raise ValueError(
            f"{where}: unknown arm {name!r}{did_you_mean(str(name), arms)}; arms: {', '.join(arms)}"
        )


def _threshold_value(d: dict[str, Any], threshold: Threshold, where: str) -> float:
    value = d[threshold]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{where}: {threshold} must be a number, got {value!r}")
    return float(value)


def _grid_check(
    d: dict[str, Any],
    arms: Collection[str],
    where: str,
    key: str,
    compare: Compare,
    threshold: Threshold,
) -> Check:
    """An ``over_grid`` check: ``arm: [A, ...]`` or ``difference: [[A, ...], [B, ...]]``."""
    kind = d["over_grid"]
    if kind not in GRID_SUMMARIES and kind not in GRID_ROW_SUMMARIES:
        raise ValueError(
            f"{where}: over_grid must be one of {', '.join(GridSummary)}, got {kind!r}"
        )
    kind = GridSummary(kind)
    if "over_seeds" in d or compare is Compare.RATIO:
        raise ValueError(f"{where}: over_grid applies to one grid (arm) or a difference of two")
    raw = [d["arm"]] if compare is Compare.LEVEL else d[key]
    if not isinstance(raw, list) or len(raw) != (1 if compare is Compare.LEVEL else 2):
        raise ValueError(
            f"{where}: over_grid needs arm: [A, ...] or difference: [[A, ...], [B, ...]]"
        )
    groups, columns = [], []
    for grid in raw:
        if kind.takes_rows:
            grid, width = _rows(grid, kind, where)
            columns.append(width)
        if not isinstance(grid, list) or len(grid) < 2:
            raise ValueError(f"{where}: a grid is a list of at least two arms, got {grid!r}")
        for name in grid:
            if not isinstance(name, str):
                raise ValueError(f"{where}: {kind} takes a grid of arm names, got {name!r}")
            _known_arm(name, arms, where)
        groups.append(tuple(str(n) for n in grid))
    measure = Measure.parse(d["measure"])
    if measure.kind == "steps_to":
        raise ValueError(f"{where}: over_grid does not take a steps_to measure (censored runs)")
    if threshold is Threshold.WITHIN and compare is not Compare.DIFFERENCE:
        raise ValueError(f"{where}: 'within' applies to a difference")
    return Check(
        measure,
        tuple(dict.fromkeys(n for g in groups for n in g)),
        compare,
        threshold,
        _threshold_value(d, threshold, where),
        over_grid=kind,
        groups=tuple(groups),
        columns=tuple(columns),
    )


def _rows(grid: object, kind: GridSummary, where: str) -> tuple[list[Any], int]:
    """A 2-D grid (rows of equal length >= 2, at least two rows) flattened row-major, its width."""
    if (
        not isinstance(grid, list)
        or len(grid) < 2
        or not all(isinstance(r, list) and len(r) >= 2 for r in grid)
        or len({len(r) for r in grid}) != 1
    ):
        raise ValueError(
            f"{where}: over_grid {kind} needs a grid of at least two rows of the same length "
            f"(>= 2 arms each), got {grid!r}"
        )
    return [name for row in grid for name in row], len(grid[0])

