"""Claims from the papers, as data: which runs to make and how to judge them.

The bundled file is ``reglab/bench/claims.yaml``; each claim has::

    id, paper, statement, task          what is claimed, on which task
    data / model / optimizer / budget   settings shared by the arms (override the task's)
    seeds                               how many seeds (0, 1, ..., n−1); arms are paired by seed
    arms                                label -> recipe name, or {recipe, data, model, optimizer, budget}
    checks                              a list; each has a measure (``reglab.bench.measures``) and
                                        one of  arm: A  |  difference: [A, B]  |  ratio: [A, B]
                                        with one of  above: v  |  below: v  |  within: m;
                                        optionally over_seeds: std | fraction_below(v), which
                                        judges one summary of each arm's seeds (their spread, the
                                        share of failed runs) with a paired bootstrap interval
    quick                               overrides for ``--quick`` ({seeds, budget, data, ...}), or
                                        {skip: reason}
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from reglab._core.registry import UnknownNameError
from reglab._core.validation import check_int, did_you_mean
from reglab.bench._config import check_keys, numbers
from reglab.bench.measures import Measure
from reglab.bench.recipes import load_recipe
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
    "checks",
    "quick",
    "notes",
)
ARM_KEYS = ("recipe", "data", "model", "optimizer", "budget")
CHECK_KEYS = ("measure", "over_seeds", "arm", "difference", "ratio", "above", "below", "within")
_FRACTION_BELOW = re.compile(r"^fraction_below\(\s*([-+0-9.eE]+)\s*\)$")
QUICK_KEYS = ("seeds", "data", "model", "optimizer", "budget", "skip")


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

    @property
    def text(self) -> str:
        measure = self.measure.text
        if self.over_seeds is not None:
            measure = f"{self.over_seeds} over seeds of {measure}"
        if self.compare == "level":
            what = f"{measure} of {self.arms[0]}"
        else:
            sign = "−" if self.compare == "difference" else "/"
            what = f"{measure}: {self.arms[0]} {sign} {self.arms[1]}"
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

    recipe: str
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
    names = (d["arm"],) if compare == "arm" else tuple(d[compare])
    if len(names) != (1 if compare == "arm" else 2):
        raise ValueError(
            f"{where}: {compare} needs {'one arm' if compare == 'arm' else 'two arms [treatment, baseline]'}"
        )
    for name in names:
        if name not in arms:
            raise ValueError(
                f"{where}: unknown arm {name!r}{did_you_mean(str(name), arms)}; arms: {', '.join(arms)}"
            )
    if threshold == "within" and compare != "difference":
        raise ValueError(f"{where}: 'within' applies to a difference")
    over = d.get("over_seeds")
    if over is not None:
        if over != "std" and not _FRACTION_BELOW.match(str(over)):
            raise ValueError(f"{where}: over_seeds must be std or fraction_below(V), got {over!r}")
        if compare == "ratio":
            raise ValueError(f"{where}: over_seeds applies to one arm or a difference")
    value = d[threshold]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{where}: {threshold} must be a number, got {value!r}")
    return Check(
        Measure.parse(d["measure"]),
        names,
        "level" if compare == "arm" else compare,
        threshold,
        float(value),
        None if over is None else str(over),
    )


def parse_claim(raw: object, where: str) -> Claim:
    d = check_keys(raw, CLAIM_KEYS, where)
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
        load_recipe(a.get("recipe", "none"))  # unknown recipe or method names fail here
        arms[str(label)] = Arm(a.get("recipe", "none"), _settings(a))
    checks = tuple(
        _check(c, arms, f"{where} check {i + 1}") for i, c in enumerate(d["checks"] or [])
    )
    if not checks:
        raise ValueError(f"{where}: needs at least one check")
    quick = check_keys(d.get("quick") or {}, QUICK_KEYS, f"{where} quick")
    if "seeds" in quick:
        check_int(f"{where} quick seeds", quick["seeds"], low=1)
    claim = Claim(
        str(d["id"]),
        str(d["paper"]),
        " ".join(str(d["statement"]).split()),
        str(d["task"]),
        _settings(d),
        check_int(f"{where} seeds", d.get("seeds", 3), low=1),
        arms,
        checks,
        quick,
        str(d.get("notes", "")),
    )
    if claim.quick_skip is None:
        claim.configs(quick=True)  # resolves every run: unknown task, options or budgets fail here
    claim.configs(quick=False)
    return claim


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
            if any(m.name == method for m in load_recipe(recipe).methods):
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


def evaluate(claim: Claim, store: Store, quick: bool) -> dict[str, Any]:
    """Judge ``claim`` from the runs in ``store``; returns a plain dict (stored and printed)."""
    configs = claim.configs(quick)
    rows = {r.key: r for r in store.runs([c.key for cs in configs.values() for c in cs])}
    notes: list[str] = []
    checks = []
    for check in claim.checks:
        values: dict[str, dict[int, float]] = {}
        censored: dict[str, set[int]] = {}
        for arm in check.arms:
            values[arm], censored[arm] = {}, set()
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
