"""Judging a parsed claim (``reglab.bench.claim_spec.Claim``) from the runs in a store: each
check's estimate over seeds (a t-interval, a ratio interval, a bootstrap interval for
``over_seeds``, a grid summary for ``over_grid``), censored ``steps_to`` runs as bounds, merged
arms built from kept weights, and computed claims called; the verdict rule is that of
``reglab.bench.stats``.
"""

from __future__ import annotations

import math
import random
import time
from pathlib import Path
from typing import Any

from reglab.bench.claim_kinds import GRID_ROW_SUMMARIES, GRID_SUMMARIES, Compare, GridSummary
from reglab.bench.claim_spec import Check, Claim
from reglab.bench.claim_results import check_result
from reglab.bench.computed_claims import judge_values, load_compute, numbers_of
from reglab.bench.merged_arms import MissingWeights, merged_metrics
from reglab.bench.runs import RunConfig
from reglab.bench.stats import (
    Bound,
    Estimate,
    Verdict,
    combine,
    ratio_interval,
    t_interval,
)
from reglab.bench.store import RunRow, Store


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
    if check.compare is Compare.LEVEL:
        arm = check.arms[0]
        est = t_interval([values[arm][s] for s in seeds], (low, high))
        directions = {Bound.LOWER for s in seeds if s in censored[arm]}
    else:
        a, b = check.arms
        if check.compare is Compare.RATIO:
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
        summarize = GRID_ROW_SUMMARIES[check.over_grid]
        per_grid = [
            [summarize([[values[a][s] for a in g[i : i + c]] for i in range(0, len(g), c)])
             for s in seeds]
            for g, c in zip(check.groups, check.columns)
        ]
        low, high = 0.0, float(max(check.columns) - 1)
    else:
        summary = GRID_SUMMARIES[check.over_grid]
        per_grid = [[summary([values[a][s] for a in grid]) for s in seeds] for grid in check.groups]
        low, high = check.measure.range
    if check.over_grid is GridSummary.RANGE:
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
        counts = {arm: [len(censored[arm]), len(values[arm])] for arm in check.arms if censored[arm]}
        checks.append(check_result(check.text, check.compare, check.threshold, check.value, est, n, counts))
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
