"""Where the time of a sweep goes: per claim and per run, training steps against evaluation.

Every run stores among its final metrics the seconds it spent in training steps (``train_s``)
and in evaluations (``eval_s``); its ``wall_s`` is its whole time in the worker (building the data,
the model and the training step too: ``setup``). ``claim_costs`` adds them up per claim, counting
a run that several claims share once, under the first claim that asks for it, so the costs add up
to the sweep's worker time. ``estimate`` says before a sweep about how long its runs will take:
from the stored runs of the same arm (another seed) when there are some, otherwise from a rough
cost per example-step of the model's architecture (machines differ 2-3× in speed).

>>> a, b = Cost(1, 10.0, 7.0, 2.0), Cost(1, 5.0, 4.0, 0.5)
>>> total = a + b
>>> total.runs, total.wall_s, total.setup_s
(2, 15.0, 1.5)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields

from reglab.bench.runs import RunConfig
from reglab.bench.store import RunRow

# Rough milliseconds per training example per step, by architecture, on one core of a 2-core
# laptop (fitted to the quick claims' runs); a step also pays a fixed overhead, and evaluations
# and setup add about a quarter.
_MS_PER_EXAMPLE = {"mlp": 0.0045, "cnn": 0.1}
_MS_DEFAULT = 0.05
_MLP_WIDTH = 200  # the width the MLP cost above is for
_STEP_OVERHEAD_MS = 1.0
_EVAL_AND_SETUP = 1.25
_FULL_BATCH_ROWS = 1000  # a full batch whose size the config does not say


@dataclass(frozen=True)
class Cost:
    """Worker time of some runs: whole wall time, and the parts in training steps and evaluation."""

    runs: int = 0
    wall_s: float = 0.0
    train_s: float = 0.0
    eval_s: float = 0.0
    steps: int = 0  # training steps taken (of the runs that kept timings)
    evals: int = 0  # evaluations made (the one before the first step included)

    def __add__(self, other: Cost) -> Cost:
        return Cost(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(Cost)))

    @property
    def step_ms(self) -> float:
        """Mean milliseconds of a training step (nan without steps)."""
        return 1000 * self.train_s / self.steps if self.steps else math.nan

    @property
    def eval_ms(self) -> float:
        """Mean milliseconds of an evaluation (nan without evaluations)."""
        return 1000 * self.eval_s / self.evals if self.evals else math.nan

    @property
    def setup_s(self) -> float:
        """Wall time outside steps and evaluations: data, model, optimizer, writing."""
        return max(0.0, self.wall_s - self.train_s - self.eval_s)


def _seconds(value: float | None) -> float:
    return 0.0 if value is None or not math.isfinite(value) else float(value)


def evaluations(steps: int, eval_every: int) -> int:
    """Evaluations of a run of ``steps``: at step 0, every ``eval_every`` steps and at the end."""
    return 1 + steps // eval_every + (steps % eval_every != 0)


def run_cost(row: RunRow) -> Cost:
    """The cost of one stored run (a run stored before timings were kept counts only wall_s)."""
    if "train_s" not in row.metrics:
        return Cost(1, _seconds(row.wall_s))
    steps = int(row.metrics.get("diverged_step", row.config.steps))
    return Cost(
        1,
        _seconds(row.wall_s),
        _seconds(row.metrics.get("train_s")),
        _seconds(row.metrics.get("eval_s")),
        steps,
        evaluations(steps, row.config.eval_every),
    )


@dataclass(frozen=True)
class ClaimCost:
    """One claim's worker time: its own runs, how many it shares with earlier claims, the slowest."""

    claim: str
    cost: Cost
    shared: int  # runs already counted under an earlier claim
    missing: int  # runs not in the store
    slowest: str  # "arm seed s: 12.3 s" of its slowest own run, or ""
    arms: dict[str, Cost] = field(default_factory=dict)  # arm -> cost of its own runs


def claim_costs(
    claims: Iterable[tuple[str, dict[str, list[RunConfig]]]], rows: dict[str, RunRow]
) -> list[ClaimCost]:
    """Per claim (id, arm -> configs), the cost of the stored runs in ``rows`` (key -> row)."""
    counted: set[str] = set()
    out = []
    for claim, arms in claims:
        cost, shared, missing, slowest = Cost(), 0, 0, ("", -1.0)
        by_arm: dict[str, Cost] = {}
        for arm, configs in arms.items():
            for config in configs:
                row = rows.get(config.key)
                if row is None:
                    missing += 1
                elif config.key in counted:
                    shared += 1
                else:
                    counted.add(config.key)
                    one = run_cost(row)
                    cost = cost + one
                    by_arm[arm] = by_arm.get(arm, Cost()) + one
                    if one.wall_s > slowest[1]:
                        slowest = (f"{arm} seed {config.seed}: {one.wall_s:.1f} s", one.wall_s)
        out.append(ClaimCost(claim, cost, shared, missing, slowest[0], by_arm))
    return out


def _rows_per_step(config: RunConfig) -> int:
    if config.batch_size is not None:
        return config.batch_size
    data = config.data
    if config.task == "modular-addition" and "p" in data and "train_fraction" in data:
        return round(data["p"] ** 2 * data["train_fraction"])
    return _FULL_BATCH_ROWS


def rough_run_s(config: RunConfig) -> float:
    """A rough worker time of a run from its steps, batch and architecture (no stored timing)."""
    arch = str(config.model.get("arch"))
    per_example = _MS_PER_EXAMPLE.get(arch, _MS_DEFAULT)
    if arch == "mlp":  # the hidden layers dominate: cost grows as width squared
        per_example *= (float(config.model.get("width", _MLP_WIDTH)) / _MLP_WIDTH) ** 2
    step_ms = _STEP_OVERHEAD_MS + per_example * _rows_per_step(config)
    return _EVAL_AND_SETUP * config.steps * step_ms / 1000


@dataclass(frozen=True)
class Estimate:
    """Before a sweep: runs asked for, runs to do, their worker seconds and the longest one."""

    runs: int
    todo: int
    worker_s: float
    longest_s: float

    def wall_s(self, workers: int) -> float:
        """Wall time on ``workers`` workers, longest run first."""
        return max(self.worker_s / max(workers, 1), self.longest_s)


def estimate(
    configs: Sequence[RunConfig], rows: Iterable[RunRow], reuse_stale: bool = False
) -> Estimate:
    """The cost of the ``configs`` that ``rows`` (the store) do not hold yet.

    A run whose arm (the same config but the seed) is stored takes the mean wall time of those
    runs; any other run takes ``rough_run_s``. A failed run counts as not held (it runs again),
    and so does a stale one (made by other code) unless ``reuse_stale``.
    """
    done: set[str] = set()
    by_arm: dict[str, list[float]] = {}
    for row in rows:
        if row.status != "failed" and (reuse_stale or not row.stale):
            done.add(row.key)
        if row.wall_s is not None and row.status == "done":
            by_arm.setdefault(row.config.arm_key, []).append(row.wall_s)
    unique = {c.key: c for c in configs}
    total, longest, todo = 0.0, 0.0, 0
    for config in unique.values():
        if config.key in done:
            continue
        stored = by_arm.get(config.arm_key)
        seconds = sum(stored) / len(stored) if stored else rough_run_s(config)
        total, longest, todo = total + seconds, max(longest, seconds), todo + 1
    return Estimate(len(unique), todo, total, longest)


def plan_text(claims: int, papers: int, est: Estimate, workers: int) -> str:
    """What ``reglab reproduce`` is about to do and about how long it takes."""
    head = f"Checking {claims} claim(s) of {papers} paper(s) with {est.runs} training run(s)"
    if est.todo == 0:
        return f"{head}: all are in the store already, so this takes seconds."
    minutes = max(est.wall_s(workers) / 60, 1)
    return (
        f"{head} ({est.todo} to do): about {est.worker_s / 60:.0f} min of work for one core, so "
        f"about {minutes:.0f} min with {workers} worker(s) on a recent laptop, 2-3× that on a "
        "slower machine. Ctrl-C stops it; running it again resumes where it stopped."
    )


def _s(seconds: float) -> str:
    return f"{seconds:.0f}" if seconds >= 10 else f"{seconds:.1f}"


def _ms(ms: float) -> str:
    return "" if math.isnan(ms) else f"{ms:.1f}"


def _cells(cost: Cost) -> list[str]:
    return [
        _s(cost.wall_s), _s(cost.train_s), _s(cost.eval_s), _s(cost.setup_s),
        _ms(cost.step_ms), _ms(cost.eval_ms),
    ]  # fmt: skip


def timing_rows(costs: Sequence[ClaimCost]) -> list[list[str]]:
    """Rows of the ``--timing`` table (columns ``TIMING_COLUMNS``): a row per claim, then one per
    arm with runs of its own; the last row is the total."""
    rows = []
    for c in costs:
        runs = f"{c.cost.runs}" + (f" (+{c.shared} shared)" if c.shared else "")
        runs += f" ({c.missing} missing)" if c.missing else ""
        rows.append([c.claim, runs, *_cells(c.cost), c.slowest])
        if len(c.arms) > 1:
            rows.extend([f"  {arm}", str(a.runs), *_cells(a), ""] for arm, a in c.arms.items())
    total = sum((c.cost for c in costs), Cost())
    rows.append(["total", str(total.runs), *_cells(total), ""])
    return rows


TIMING_COLUMNS = (
    "claim", "runs", "worker s", "steps s", "eval s", "setup s", "ms/step", "ms/eval",
    "slowest run",
)  # fmt: skip
