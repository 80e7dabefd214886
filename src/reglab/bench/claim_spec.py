"""A parsed claim, as data: ``Claim``, its ``Arm``s and its ``Check``s (``reglab.bench.claims``
describes the YAML they come from; ``reglab.bench.claim_parsing`` makes them).

The shared and per-arm settings are ``reglab.bench.runs.Settings`` (data, model, optimizer,
budget overrides); ``Claim.configs`` resolves them, layer over layer, into one run per arm and
seed.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from reglab.bench.claim_kinds import Compare, GridSummary, Threshold
from reglab.bench.measures import Measure
from reglab.bench.merged_arms import Merge
from reglab.bench.recipes import RecipeSpec
from reglab.bench.runs import RunConfig, Settings, resolve

_FRACTION_BELOW = re.compile(r"^fraction_below\(\s*([-+0-9.eE]+)\s*\)$")


def settings_of(d: dict[str, Any]) -> Settings:
    """The ``data / model / optimizer / budget`` overrides of a claim, arm or ``quick`` mapping."""
    return Settings(**{k: dict(d.get(k) or {}) for k in ("data", "model", "optimizer", "budget")})


def is_over_seeds(over: object) -> bool:
    """Whether ``over`` is an ``over_seeds`` summary: ``std`` or ``fraction_below(V)``."""
    return over == "std" or _FRACTION_BELOW.match(str(over)) is not None


@dataclass(frozen=True)
class Check:
    """One check of a claim: a measure on one arm, or compared between two, against a threshold."""

    measure: Measure
    arms: tuple[str, ...]  # one arm (a level), or (treatment, baseline)
    compare: Compare
    threshold: Threshold
    value: float
    over_seeds: str | None = None  # std | fraction_below(v): one summary of the arm's seeds
    over_grid: GridSummary | None = None  # then arms are those of all groups
    groups: tuple[tuple[str, ...], ...] = ()  # over_grid: one grid (level) or two (difference)
    columns: tuple[int, ...] = ()  # 2-D over_grid: each group's row length (groups row-major)

    @property
    def text(self) -> str:
        measure = self.measure.text
        if self.over_seeds is not None:
            measure = f"{self.over_seeds} over seeds of {measure}"
        names = list(self.arms)
        if self.over_grid is not None:
            measure = f"{self.over_grid} over the grid of {measure}"
            names = ["[" + ", ".join(g) + "]" for g in self.groups]
            if self.columns:  # a 2-D grid: its first and last arm and its shape
                names = [
                    f"[{g[0]} … {g[-1]} ({len(g) // c}×{c})]"
                    for g, c in zip(self.groups, self.columns)
                ]
        if self.compare is Compare.LEVEL:
            what = f"{measure} of {names[0]}"
        else:
            what = f"{measure}: {names[0]} {self.compare.sign} {names[1]}"
        return f"{what} {self.threshold} {self.value:g}"

    def summary(self, values: list[float]) -> float:
        """The ``over_seeds`` summary of one arm's per-seed values (std: with n − 1)."""
        if self.over_seeds == "std":
            mean = sum(values) / len(values)
            return math.sqrt(sum((v - mean) ** 2 for v in values) / max(len(values) - 1, 1))
        m = _FRACTION_BELOW.match(str(self.over_seeds))
        if m is None:
            raise ValueError(f"over_seeds must be std or fraction_below(V), got {self.over_seeds!r}")
        return sum(v < float(m.group(1)) for v in values) / len(values)


@dataclass(frozen=True)
class Arm:
    """One arm of a claim: a recipe and its own settings."""

    recipe: str | RecipeSpec  # a bundled name or path, or an inline recipe
    settings: Settings


@dataclass(frozen=True)
class Claim:
    """A parsed claim (see ``reglab.bench.claims``); ``configs`` gives its runs."""

    id: str
    paper: str
    statement: str
    task: str
    shared: Settings
    seeds: int
    arms: dict[str, Arm]
    checks: tuple[Check, ...]
    quick: dict[str, Any] = field(default_factory=dict)
    notes: str = ""
    merges: dict[str, Merge] = field(default_factory=dict)
    compute: str | None = None  # a computed claim (reglab.bench.computed_claims): no arms
    args: dict[str, Any] = field(default_factory=dict)

    @property
    def quick_skip(self) -> str | None:
        return self.quick.get("skip")

    def configs(self, quick: bool) -> dict[str, list[RunConfig]]:
        """arm label -> one resolved config per seed."""
        seeds, layers = self.seeds, [self.shared]
        if quick:
            seeds = self.quick.get("seeds", seeds)
            layers.append(settings_of(self.quick))
        return {
            label: [resolve(self.task, arm.recipe, s, layers, arm.settings) for s in range(seeds)]
            for label, arm in self.arms.items()
        }
