"""Claims from the papers, as data: which runs to make and how to judge them.

The bundled file is ``reglab/bench/claims.yaml``; each claim has::

    id, paper, statement, task          what is claimed, on which task
    data / model / optimizer / budget   settings shared by the arms (override the task's)
    seeds                               how many seeds (0, 1, ..., n−1); arms are paired by seed
    arms                                label -> recipe name, or {recipe, data, model, optimizer, budget}
                                        (recipe: a name or an inline recipe mapping, named after
                                        the arm: {methods: [{spectral: {strength: 1.0e-3}}]})
    merges                              optional: label -> {kind, of, p}, arms built after training
                                        from the kept weights of other arms' runs (model soups,
                                        DARE; ``reglab.bench.merged_arms``); checks name them
                                        like arms, with final measures only
    checks                              a list; each has a measure (``reglab.bench.measures``) and
                                        one of  arm: A  |  difference: [A, B]  |  ratio: [A, B]
                                        with one of  above: v  |  below: v  |  within: m;
                                        optionally over_seeds: std | fraction_below(v), which
                                        judges one summary of each arm's seeds (their spread, the
                                        share of failed runs) with a paired bootstrap interval;
                                        or over_grid: range | min | max | mean with arm: [A, ...]
                                        or difference: [[A, ...], [B, ...]]: each seed's arms of a
                                        grid (one method at several strengths) summarized in one
                                        number (range: max − min, the sensitivity to the strength),
                                        then judged over seeds like one arm or a difference;
                                        over_grid: argmax_spread takes a 2-D grid, a list of
                                        rows ([[A1, A2, ...], [B1, B2, ...]]: one row a learning
                                        rate, its columns the strengths in increasing order):
                                        per seed, the column of each row's best value (ties:
                                        their mean column), and the summary is max − min of
                                        those columns over the rows, in grid steps (decades
                                        when the strengths are a decade apart): how far the
                                        best strength moves across the rows
    quick                               overrides for ``--quick`` ({seeds, budget, data, ...}), or
                                        {skip: reason}
    compute, args                       instead of arms: a claim judged on a computation's numbers
                                        (``module:function`` called as function(seed=s, **args)
                                        for each seed; checks: value: NAME | difference: [a, b] |
                                        ratio: [a, b]; see ``reglab.bench.computed_claims``)
    notes                               what was tried, and why the setup is what it is

Top-level keys starting with ``x-`` are ignored, so they can hold YAML anchors of shared settings.

The verdict rule and the intervals are those of ``reglab.bench.stats``; the first check is the
claim's headline effect. Intervals are clipped to the measure's range (a difference of
accuracies to [−1, 1]). A ``steps_to`` run that never reached its threshold is censored: the
check's result counts such runs per arm (``censored``) and its estimate becomes a one-sided
bound (``bound``: lower, upper or both), judged as ``reglab.bench.stats`` says.
"""

from __future__ import annotations

import math
import random
import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from reglab._core.registry import UnknownNameError
from reglab._core.validation import check_int, did_you_mean
from reglab.bench._config import check_keys, numbers
from reglab.bench.computed_claims import (
    judge_values,
    load_compute,
    numbers_of,
    parse_value_check,
)
from reglab.bench.final_measures import OPTIONAL_MEASURES
from reglab.bench.measures import Measure
from reglab.bench.merged_arms import (
    MERGED_METRICS,
    Merge,
    MissingWeights,
    check_members,
    merged_metrics,
    parse_merge,
)
from reglab.bench.recipes import RecipeSpec, load_recipe, parse_recipe
from reglab.bench.runs import RunConfig, Settings, resolve
from reglab.bench.stats import (
    Bound,
    Estimate,
    Verdict,
    combine,
    judge,
    ratio_interval,
    t_interval,
)
from reglab.bench.store import RunRow, Store

BUNDLED = Path(__file__).with_name("claims.yaml")
CLAIM_KEYS = (
    "id",
    "paper",
    "statement",
    "task",
    "data",
    "model",
    "optimizer",
    "budget",
    "seeds",
    "arms",
    "merges",
    "checks",
    "quick",
    "notes",
    "compute",
    "args",
)
ARM_KEYS = ("recipe", "data", "model", "optimizer", "budget")
CHECK_KEYS = (
    "measure", "over_seeds", "over_grid", "arm", "difference", "ratio", "above", "below", "within"
)
_FRACTION_BELOW = re.compile(r"^fraction_below\(\s*([-+0-9.eE]+)\s*\)$")
QUICK_KEYS = ("seeds", "data", "model", "optimizer", "budget", "skip")
# over_grid: one number from the values of a grid's arms at one seed
GRID_SUMMARIES = {
    "range": lambda v: max(v) - min(v),
    "min": min,
    "max": max,
    "mean": lambda v: sum(v) / len(v),
}


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


# over_grid on a 2-D grid (rows of arms): one number from a seed's rows of values
GRID_ROW_SUMMARIES = {"argmax_spread": argmax_spread}


def _settings(d: dict[str, Any]) -> Settings:
    return Settings(**{k: dict(d.get(k) or {}) for k in ("data", "model", "optimizer", "budget")})


@dataclass(frozen=True)
class Check:
    """One check of a claim: a measure on one arm, or compared between two, against a threshold."""

    measure: Measure
    arms: tuple[str, ...]  # one arm (a level), or (treatment, baseline)
    compare: str  # level, difference, ratio
    threshold: str  # above, below, within
    value: float
    over_seeds: str | None = None  # std | fraction_below(v): one summary of the arm's seeds
    over_grid: str | None = None  # a GRID_SUMMARIES name; then arms are those of all groups
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
        if self.compare == "level":
            what = f"{measure} of {names[0]}"
        else:
            sign = "−" if self.compare == "difference" else "/"
            what = f"{measure}: {names[0]} {sign} {names[1]}"
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
    """A parsed claim (see the module docstring); ``configs`` gives its runs."""

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
            layers.append(_settings(self.quick))
        return {
            label: [resolve(self.task, arm.recipe, s, layers, arm.settings) for s in range(seeds)]
            for label, arm in self.arms.items()
        }


def _check(raw: object, arms: dict[str, Arm], where: str) -> Check:
    d = check_keys(raw, CHECK_KEYS, where)
    if "measure" not in d:
        raise ValueError(f"{where}: a check needs 'measure'")
    compares = [k for k in ("arm", "difference", "ratio") if k in d]
    thresholds = [k for k in ("above", "below", "within") if k in d]
    if len(compares) != 1 or len(thresholds) != 1:
        raise ValueError(f"{where}: give one of arm/difference/ratio and one of above/below/within")
    compare, threshold = compares[0], thresholds[0]
    if "over_grid" in d:
        return _grid_check(d, arms, where, compare, threshold)
    names = (d["arm"],) if compare == "arm" else tuple(d[compare])
    if len(names) != (1 if compare == "arm" else 2):
        raise ValueError(
            f"{where}: {compare} needs {'one arm' if compare == 'arm' else 'two arms [treatment, baseline]'}"
        )
    for name in names:
        _known_arm(name, arms, where)
    if threshold == "within" and compare != "difference":
        raise ValueError(f"{where}: 'within' applies to a difference")
    over = d.get("over_seeds")
    if over is not None:
        if over != "std" and not _FRACTION_BELOW.match(str(over)):
            raise ValueError(f"{where}: over_seeds must be std or fraction_below(V), got {over!r}")
        if compare == "ratio":
            raise ValueError(f"{where}: over_seeds applies to one arm or a difference")
    return Check(
        Measure.parse(d["measure"]),
        names,
        "level" if compare == "arm" else compare,
        threshold,
        _threshold_value(d, threshold, where),
        None if over is None else str(over),
    )


def _known_arm(name: object, arms: dict[str, Arm], where: str) -> None:
    if name not in arms:
        raise ValueError(
            f"{where}: unknown arm {name!r}{did_you_mean(str(name), arms)}; arms: {', '.join(arms)}"
        )


def _threshold_value(d: dict[str, Any], threshold: str, where: str) -> float:
    value = d[threshold]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{where}: {threshold} must be a number, got {value!r}")
    return float(value)


def _grid_check(
    d: dict[str, Any], arms: dict[str, Arm], where: str, compare: str, threshold: str
) -> Check:
    """An ``over_grid`` check: ``arm: [A, ...]`` or ``difference: [[A, ...], [B, ...]]``."""
    kind = d["over_grid"]
    if kind not in GRID_SUMMARIES and kind not in GRID_ROW_SUMMARIES:
        raise ValueError(
            f"{where}: over_grid must be one of "
            f"{', '.join([*GRID_SUMMARIES, *GRID_ROW_SUMMARIES])}, got {kind!r}"
        )
    if "over_seeds" in d or compare == "ratio":
        raise ValueError(f"{where}: over_grid applies to one grid (arm) or a difference of two")
    raw = [d["arm"]] if compare == "arm" else d[compare]
    if not isinstance(raw, list) or len(raw) != (1 if compare == "arm" else 2):
        raise ValueError(
            f"{where}: over_grid needs arm: [A, ...] or difference: [[A, ...], [B, ...]]"
        )
    groups, columns = [], []
    for grid in raw:
        if kind in GRID_ROW_SUMMARIES:
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
    if threshold == "within" and compare != "difference":
        raise ValueError(f"{where}: 'within' applies to a difference")
    return Check(
        measure,
        tuple(dict.fromkeys(n for g in groups for n in g)),
        "level" if compare == "arm" else compare,
        threshold,
        _threshold_value(d, threshold, where),
        over_grid=str(kind),
        groups=tuple(groups),
        columns=tuple(columns),
    )


def _rows(grid: object, kind: str, where: str) -> tuple[list[Any], int]:
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


def _parse_computed(d: dict[str, Any], where: str) -> Claim:
    """A ``compute:`` claim: a function's numbers over seeds, no arms or runs."""
    missing = [k for k in ("id", "paper", "statement", "compute", "checks") if k not in d]
    if missing:
        raise ValueError(f"{where}: missing {', '.join(missing)}")
    where = f"claim {d['id']!r}"
    extra = [k for k in ("arms", "merges", "data", "model", "optimizer", "budget") if k in d]
    if extra:
        raise ValueError(f"{where}: a compute claim has no {', '.join(extra)}")
    load_compute(d["compute"], where)  # an unknown module or function fails here
    args = d.get("args") or {}
    if not isinstance(args, dict) or "seed" in args:
        raise ValueError(f"{where}: args must be a mapping of keyword arguments besides seed")
    checks = tuple(
        parse_value_check(c, f"{where} check {i + 1}") for i, c in enumerate(d["checks"] or [])
    )
    if not checks:
        raise ValueError(f"{where}: needs at least one check")
    quick = check_keys(d.get("quick") or {}, ("seeds", "skip"), f"{where} quick")
    if "seeds" in quick:
        check_int(f"{where} quick seeds", quick["seeds"], low=1)
    return Claim(
        str(d["id"]),
        str(d["paper"]),
        " ".join(str(d["statement"]).split()),
        str(d.get("task", "")),
        _settings({}),
        check_int(f"{where} seeds", d.get("seeds", 3), low=1),
        {},
        checks,  # type: ignore[arg-type]
        quick,
        str(d.get("notes", "")),
        compute=str(d["compute"]),
        args=dict(args),
    )


def evaluate_computed(claim: Claim, quick: bool) -> dict[str, Any]:
    """Judge a ``compute:`` claim: call its function once per seed, check the numbers."""
    fn = load_compute(claim.compute, f"claim {claim.id!r}")
    seeds = claim.quick.get("seeds", claim.seeds) if quick else claim.seeds
    start = time.perf_counter()
    outputs = {
        s: numbers_of(fn(seed=s, **claim.args), f"claim {claim.id!r} seed {s}")
        for s in range(seeds)
    }
    elapsed = time.perf_counter() - start
    checks = [judge_values(c, outputs) for c in claim.checks]  # type: ignore[arg-type]
    return {
        "id": claim.id,
        "paper": claim.paper,
        "statement": claim.statement,
        "verdict": str(combine([Verdict(c["verdict"]) for c in checks])),
        "mode": "quick" if quick else "full",
        "checks": checks,
        "notes": [],
        "runs": {},
        "compute": claim.compute,
        "computed": {str(s): numbers for s, numbers in outputs.items()},
        "compute_s": elapsed,  # wall seconds of all the calls
    }


def parse_claim(raw: object, where: str) -> Claim:
    d = check_keys(raw, CLAIM_KEYS, where)
    if "compute" in d:
        return _parse_computed(d, where)
    if "args" in d:
        raise ValueError(f"{where}: args applies to a compute claim")
    missing = [k for k in ("id", "paper", "statement", "task", "arms", "checks") if k not in d]
    if missing:
        raise ValueError(f"{where}: missing {', '.join(missing)}")
    where = f"claim {d['id']!r}"
    arms: dict[str, Arm] = {}
    for label, arm in (d["arms"] or {}).items():
        a = (
            {"recipe": arm}
            if isinstance(arm, str)
            else check_keys(arm, ARM_KEYS, f"{where} arm {label!r}")
        )
        recipe = a.get("recipe", "none")
        if isinstance(recipe, dict):  # an inline recipe, named after its arm
            recipe = parse_recipe(recipe, str(label), f"{where} arm {label!r} recipe")
        else:
            load_recipe(recipe)  # unknown recipe or method names fail here
        arms[str(label)] = Arm(recipe, _settings(a))
    merges: dict[str, Merge] = {}
    for label, m in (d.get("merges") or {}).items():
        if str(label) in arms:
            raise ValueError(f"{where}: merged arm {label!r} has the name of a trained arm")
        merges[str(label)] = parse_merge(m, list(arms), f"{where} merge {label!r}")
    checks = tuple(
        _check(c, {**arms, **merges}, f"{where} check {i + 1}")
        for i, c in enumerate(d["checks"] or [])
    )
    if not checks:
        raise ValueError(f"{where}: needs at least one check")
    for i, c in enumerate(checks):
        if any(a in merges for a in c.arms) and (
            c.measure.needs_curve or c.measure.metric not in MERGED_METRICS
        ):
            raise ValueError(
                f"{where} check {i + 1}: a merged arm has only the final metrics "
                f"{', '.join(MERGED_METRICS)}, got {c.measure.text!r}"
            )
    quick = check_keys(d.get("quick") or {}, QUICK_KEYS, f"{where} quick")
    if "seeds" in quick:
        check_int(f"{where} quick seeds", quick["seeds"], low=1)
    claim = Claim(
        str(d["id"]),
        str(d["paper"]),
        " ".join(str(d["statement"]).split()),
        str(d["task"]),
        _with_optional_measures(_settings(d), checks),
        check_int(f"{where} seeds", d.get("seeds", 3), low=1),
        arms,
        checks,
        quick,
        str(d.get("notes", "")),
        merges,
    )
    if claim.quick_skip is None:
        quick_configs = claim.configs(quick=True)  # unknown task, options or budgets fail here
        for label, m in merges.items():
            check_members(m, quick_configs, f"{where} merge {label!r}")
    full = claim.configs(quick=False)
    for label, m in merges.items():
        check_members(m, full, f"{where} merge {label!r}")
    return claim


def _with_optional_measures(shared: Settings, checks: tuple[Check, ...]) -> Settings:
    """``shared`` asking its runs for the costly end-of-run measures the checks name."""
    wanted = {c.measure.metric for c in checks} & set(OPTIONAL_MEASURES)
    if not wanted:
        return shared
    measures = sorted(wanted | set(shared.budget.get("measures") or ()))
    return replace(shared, budget={**shared.budget, "measures": measures})


def load_claims(path: str | Path | None = None) -> list[Claim]:
    """The claims of ``path`` (default: the bundled file), every name checked."""
    path = Path(path) if path is not None else BUNDLED
    if not path.exists():
        raise FileNotFoundError(f"claims file {path} does not exist")
    try:
        data = numbers(yaml.safe_load(path.read_text()))
    except yaml.YAMLError as e:
        raise ValueError(f"claims file {path} is not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ValueError(f"claims file {path} must be a mapping with a 'claims' list")
    shared = {k: v for k, v in data.items() if not str(k).startswith("x-")}  # x-*: YAML anchors
    body = check_keys(shared, ("claims", "verdict_rule"), f"claims file {path}")
    claims = [
        parse_claim(c, f"claims file {path}, entry {i + 1}")
        for i, c in enumerate(body.get("claims") or [])
    ]
    ids = [c.id for c in claims]
    if len(set(ids)) != len(ids):
        raise ValueError(f"claims file {path}: duplicate claim ids")
    return claims


def claims_using(method: str, path: str | Path | None = None) -> list[str]:
    """Ids of the claims (default: the bundled file) with an arm whose recipe uses ``method``.

    Read from the file's arms and recipes only, without resolving runs (``reglab show``).
    """
    data = yaml.safe_load(Path(path or BUNDLED).read_text()) or {}
    ids = []
    for claim in data.get("claims") or []:
        for arm in (claim.get("arms") or {}).values():
            recipe = arm if isinstance(arm, str) else (arm or {}).get("recipe", "none")
            inline = isinstance(recipe, dict)
            spec = parse_recipe(recipe, "inline") if inline else load_recipe(recipe)
            if any(m.name == method for m in spec.methods):
                ids.append(str(claim["id"]))
                break
    return ids


def select_claims(claims: list[Claim], ids: list[str]) -> list[Claim]:
    by_id = {c.id: c for c in claims}
    for i in ids:
        if i not in by_id:
            raise UnknownNameError(
                f"unknown claim {i!r}{did_you_mean(i, by_id)}; claims: {', '.join(by_id)}"
            )
    return [by_id[i] for i in ids] if ids else claims


def _estimate(
    check: Check, values: dict[str, dict[int, float]], censored: dict[str, set[int]]
) -> tuple[Estimate, int]:
    """The check's estimate over the seeds every arm has, a bound where a value was censored."""
    seeds = sorted(set.intersection(*(set(values[a]) for a in check.arms)))
    seeds = [s for s in seeds if all(math.isfinite(values[a][s]) for a in check.arms)]
    low, high = check.measure.range
    if check.over_seeds is not None:
        return _over_seeds(check, values, seeds), len(seeds)
    if check.over_grid is not None:
        return _over_grid(check, values, seeds), len(seeds)
    if check.compare == "level":
        arm = check.arms[0]
        est = t_interval([values[arm][s] for s in seeds], (low, high))
        directions = {Bound.LOWER for s in seeds if s in censored[arm]}
    else:
        a, b = check.arms
        if check.compare == "ratio":
            seeds = [s for s in seeds if values[a][s] > 0 and values[b][s] > 0]
            est = ratio_interval([values[a][s] / values[b][s] for s in seeds])
        else:
            diffs = [values[a][s] - values[b][s] for s in seeds]
            est = t_interval(diffs, (low - high, high - low))
        # a censored treatment only raises the true effect, a censored baseline only lowers it
        directions = {Bound.LOWER for s in seeds if s in censored[a]}
        directions |= {Bound.UPPER for s in seeds if s in censored[b]}
    bound = Bound.of(directions)
    if bound is not None:
        est = Estimate(est.mean, est.low, est.high, est.n, est.clipped, bound)
    return est, len(seeds)


def _over_seeds(check: Check, values: dict[str, dict[int, float]], seeds: list[int]) -> Estimate:
    """A summary over seeds (std, fraction below v) of one arm, or its difference between two
    arms, with a 95% percentile bootstrap interval (2000 resamples of the seeds, paired across
    arms, seeded: the same runs give the same interval)."""

    def stat(chosen: list[int]) -> float:
        per_arm = [check.summary([values[a][s] for s in chosen]) for a in check.arms]
        return per_arm[0] if len(per_arm) == 1 else per_arm[0] - per_arm[1]

    if len(seeds) < 2:
        return Estimate(stat(seeds) if seeds else math.nan, -math.inf, math.inf, len(seeds))
    rng = random.Random(0)
    draws = sorted(stat(rng.choices(seeds, k=len(seeds))) for _ in range(2000))
    return Estimate(stat(seeds), draws[49], draws[1950], len(seeds))


def _over_grid(check: Check, values: dict[str, dict[int, float]], seeds: list[int]) -> Estimate:
    """The t-interval over seeds of each seed's grid summary (one grid), or of the paired
    difference of two grids' summaries; clipped to the summary's range."""
    if check.columns:  # a 2-D grid: its summary is in grid steps, 0 to the width − 1
        summarize = GRID_ROW_SUMMARIES[str(check.over_grid)]
        per_grid = [
            [summarize([[values[a][s] for a in g[i : i + c]] for i in range(0, len(g), c)])
             for s in seeds]
            for g, c in zip(check.groups, check.columns)
        ]
        low, high = 0.0, float(max(check.columns) - 1)
    else:
        summary = GRID_SUMMARIES[str(check.over_grid)]
        per_grid = [[summary([values[a][s] for a in grid]) for s in seeds] for grid in check.groups]
        low, high = check.measure.range
    if check.over_grid == "range":
        low, high = 0.0, high - low
    if len(per_grid) == 1:
        return t_interval(per_grid[0], (low, high))
    diffs = [a - b for a, b in zip(*per_grid)]
    return t_interval(diffs, (low - high, high - low))


def _merged_arm(
    claim: Claim,
    label: str,
    configs: dict[str, list[RunConfig]],
    rows: dict[str, RunRow],
    cache_dir: Path,
    notes: list[str],
) -> dict[int, dict[str, float]]:
    """seed -> metrics of merged arm ``label`` (``reglab.bench.merged_arms``); a seed whose
    member runs are not all done, or kept no weights, is left out with a note."""
    merge = claim.merges[label]
    out: dict[int, dict[str, float]] = {}
    for members in zip(*(configs[a] for a in merge.of), strict=True):
        seed = members[0].seed
        missing = [a for a, c in zip(merge.of, members) if c.key not in rows or rows[c.key].status != "done"]
        if missing:
            notes.append(f"{label} seed {seed} left out (runs not done: {', '.join(missing)})")
            continue
        try:
            metrics, note = merged_metrics(merge, label, members, cache_dir)
        except MissingWeights as e:
            notes.append(f"{label} seed {seed} left out ({e})")
            continue
        out[seed] = metrics
        if note:
            notes.append(note)
    return out


def evaluate(
    claim: Claim, store: Store, quick: bool, cache_dir: Path | None = None
) -> dict[str, Any]:
    """Judge ``claim`` from the runs in ``store``; returns a plain dict (stored and printed).

    Merged arms read the runs' kept weights from ``cache_dir`` (default: ``cache`` beside the
    store, where ``reglab reproduce`` keeps them). A ``compute:`` claim is computed instead
    (``evaluate_computed``)."""
    if claim.compute is not None:
        return evaluate_computed(claim, quick)
    configs = claim.configs(quick)
    rows = {r.key: r for r in store.runs([c.key for cs in configs.values() for c in cs])}
    notes: list[str] = []
    checks = []
    cache = Path(cache_dir) if cache_dir is not None else Path(store.path).parent / "cache"
    merged: dict[str, dict[int, dict[str, float]]] = {}  # each merged arm built once
    for check in claim.checks:
        values: dict[str, dict[int, float]] = {}
        censored: dict[str, set[int]] = {}
        for arm in check.arms:
            values[arm], censored[arm] = {}, set()
            if arm in claim.merges:
                if arm not in merged:
                    merged[arm] = _merged_arm(claim, arm, configs, rows, cache, notes)
                metric = check.measure.metric
                values[arm] = {s: m.get(metric, math.nan) for s, m in merged[arm].items()}
                continue
            for c in configs[arm]:
                row: RunRow | None = rows.get(c.key)
                if row is None or row.status != "done":
                    state = "missing" if row is None else f"{row.status}: {row.message}"
                    notes.append(f"{arm} seed {c.seed} left out ({state})")
                    continue
                curve = (
                    store.curves(row.key).get(check.measure.metric)
                    if check.measure.needs_curve
                    else None
                )
                value, cut = check.measure.of(row, curve)
                values[arm][c.seed] = value
                if cut:
                    censored[arm].add(c.seed)
            if censored[arm]:
                notes.append(
                    f"{check.measure.text}: {len(censored[arm])} of {len(values[arm])} {arm} "
                    f"run(s) never reached it (censored: ≥ {max(c.steps for c in configs[arm])} "
                    "steps, so the effect is a bound)"
                )
        est, n = _estimate(check, values, censored)
        verdict = judge(est, **{check.threshold: check.value}) if n >= 2 else Verdict.INCONCLUSIVE
        checks.append(
            {
                "check": check.text,
                "compare": check.compare,
                "verdict": str(verdict),
                "mean": est.mean,
                "low": est.low,
                "high": est.high,
                "n": n,
                "clipped": est.clipped,
                "bound": None if est.bound is None else str(est.bound),
                # arm -> [runs that never reached the threshold, runs measured]
                "censored": {
                    arm: [len(censored[arm]), len(values[arm])]
                    for arm in check.arms
                    if censored[arm]
                },
            }
        )
    verdict = combine([Verdict(c["verdict"]) for c in checks])
    return {
        "id": claim.id,
        "paper": claim.paper,
        "statement": claim.statement,
        "verdict": str(verdict),
        "mode": "quick" if quick else "full",
        "checks": checks,
        "notes": sorted(set(notes)),
        "runs": {arm: [c.key for c in cs] for arm, cs in configs.items()},
    }
