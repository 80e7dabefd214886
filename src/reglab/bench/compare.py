"""League tables (``reglab compare``): methods compared at strengths chosen by the same budget.

A league (a YAML file in ``reglab/bench/leagues/``) names a task and its entries; each entry is
a recipe (a bundled name, or ``methods:`` written inline) and the one hyperparameter that sets
its strength, ``param: PATH=SCALE:LOW:HIGH`` (see ``reglab.bench.search``); an entry without
``param`` (the baseline) is run as written::

    description: label noise
    task: noisy-digits
    baseline: none                          # the entry whose step time is the cost unit
    full: {points: 5, seeds: 5}             # grid points per entry, then seeds at the pick
    quick: {points: 3, seeds: 3, steps: 300}
    entries:
      - {name: elr, recipe: elr, param: "methods.0.strength=log:0.3:10"}
      - {name: none, recipe: none}

Every entry gets the same budget: ``points`` values, log- or linearly spaced, each scored on
the validation split of seed 0 (``validation`` data option: never the test set); the best is
then run on seeds ``0..seeds-1`` and scored on the test set. The table gives each entry's test
accuracy with its 95% interval, a rank with ties (an entry's rank is one plus the number of
entries whose interval lies wholly above its own), and its cost: its mean step time over the
baseline's, both measured in the same sweep.

>>> rank_with_ties([(0.9, 0.85, 0.95), (0.8, 0.78, 0.82), (0.88, 0.83, 0.93)])
[1, 3, 1]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from reglab._core.registry import UnknownNameError
from reglab._core.validation import check_int, did_you_mean
from reglab.bench._config import check_keys, numbers
from reglab.bench.recipes import RecipeSpec, load_recipe, parse_recipe
from reglab.bench.runs import BUDGET_KEYS, RunConfig, Settings, resolve
from reglab.bench.search import Space, parse_space, trial_config
from reglab.bench.stats import t_interval
from reglab.bench.store import RunRow

BUNDLED = Path(__file__).with_name("leagues")
_KEYS = ("description", "task", "baseline", "full", "quick", "settings", "entries")
_ENTRY_KEYS = ("name", "recipe", "methods", "optimizer", "model", "param", "description")
_FORM_KEYS = ("points", "seeds", *BUDGET_KEYS)
_SETTINGS_KEYS = ("data", "model", "optimizer", "budget")


@dataclass(frozen=True)
class Entry:
    name: str
    recipe: RecipeSpec
    space: Space | None  # None: run as written (the baseline)


@dataclass(frozen=True)
class Form:
    """A budget: grid points per entry, seeds at the pick, and budget overrides."""

    points: int
    seeds: int
    budget: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_int("points", self.points, low=1)
        check_int("seeds", self.seeds, low=2)


@dataclass(frozen=True)
class League:
    name: str
    description: str
    task: str
    baseline: str
    entries: tuple[Entry, ...]
    full: Form
    quick: Form
    settings: Settings = field(default_factory=Settings)

    def form(self, quick: bool) -> Form:
        return self.quick if quick else self.full

    def _settings(self, quick: bool) -> list[Settings]:
        return [self.settings, Settings(budget=self.form(quick).budget)]

    def selection_configs(self, quick: bool) -> dict[str, list[tuple[float, RunConfig]]]:
        """entry -> [(value, validation run)] over the grid (empty for an entry run as written)."""
        out: dict[str, list[tuple[float, RunConfig]]] = {}
        for e in self.entries:
            out[e.name] = (
                []
                if e.space is None
                else [
                    (
                        v,
                        trial_config(
                            self.task, e.recipe, e.space.path, v, 0, self._settings(quick)
                        ),
                    )
                    for v in e.space.grid(self.form(quick).points)
                ]
            )
        return out

    def final_configs(
        self, picks: dict[str, float | None], quick: bool
    ) -> dict[str, list[RunConfig]]:
        """entry -> its test runs over seeds, at its picked value."""
        from reglab.bench.search import with_value

        out: dict[str, list[RunConfig]] = {}
        for e in self.entries:
            pick = picks.get(e.name)
            recipe = (
                e.recipe
                if e.space is None or pick is None
                else with_value(e.recipe, e.space.path, pick)
            )
            out[e.name] = [
                resolve(self.task, recipe, s, self._settings(quick))
                for s in range(self.form(quick).seeds)
            ]
        return out


def _form(data: object, where: str) -> Form:
    values = check_keys(numbers(data), _FORM_KEYS, where)
    budget = {k: values[k] for k in BUDGET_KEYS if k in values}
    return Form(values.get("points", 5), values.get("seeds", 5), budget)


def _entry(item: object, where: str) -> Entry:
    values = check_keys(numbers(item), _ENTRY_KEYS, where)
    if "name" not in values:
        raise ValueError(f"{where}: every entry needs a name")
    name = str(values["name"])
    where = f"{where} entry {name!r}"
    if "recipe" in values and "methods" in values:
        raise ValueError(f"{where}: give recipe or methods, not both")
    if "recipe" in values:
        recipe = load_recipe(str(values["recipe"]))
    else:
        recipe = parse_recipe(
            {k: values[k] for k in ("methods", "optimizer", "model", "description") if k in values},
            name,
            where,
        )
    recipe = RecipeSpec(name, recipe.description, recipe.methods, recipe.optimizer, recipe.model)
    space = parse_space(str(values["param"])) if "param" in values else None
    return Entry(name, recipe, space)


def parse_league(data: object, name: str, where: str | None = None) -> League:
    where = where or f"league {name!r}"
    values = check_keys(data if data is not None else {}, _KEYS, where)
    if "task" not in values:
        raise ValueError(f"{where}: 'task' is required")
    entries = tuple(_entry(e, where) for e in values.get("entries") or [])
    names = [e.name for e in entries]
    if len(set(names)) != len(names):
        raise ValueError(f"{where}: entry names must be distinct, got {names}")
    baseline = str(values.get("baseline", "none"))
    if baseline not in names:
        raise ValueError(
            f"{where}: baseline {baseline!r} is not an entry (entries: {', '.join(names)})"
        )
    settings = check_keys(numbers(values.get("settings", {})), _SETTINGS_KEYS, f"{where} settings")
    return League(
        name,
        str(values.get("description", "")),
        str(values["task"]),
        baseline,
        entries,
        _form(values.get("full", {}), f"{where} full"),
        _form(values.get("quick", {}), f"{where} quick"),
        Settings(**settings),
    )


def bundled_leagues() -> list[str]:
    return sorted(p.stem for p in BUNDLED.glob("*.yaml"))


def load_league(ref: str | Path) -> League:
    """A league from a .yaml path or a bundled league's name."""
    path = Path(str(ref))
    if path.suffix not in (".yaml", ".yml"):
        path = BUNDLED / f"{ref}.yaml"
        if not path.exists():
            names = bundled_leagues()
            raise UnknownNameError(
                f"unknown league {str(ref)!r}{did_you_mean(str(ref), names)}; bundled: {', '.join(names)}"
            )
    if not path.exists():
        raise FileNotFoundError(f"league file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ValueError(f"league file {path} is not valid YAML: {e}") from None
    return parse_league(data, path.stem, str(path))


def league_for(task: str, methods: list[str]) -> League:
    """An ad-hoc league on ``task`` of the bundled entries named ``methods`` (any league's),
    with the budget of the first bundled league on ``task`` (or of the first that has one)."""
    leagues = [load_league(n) for n in bundled_leagues()]
    catalog: dict[str, Entry] = {}
    for lg in sorted(leagues, key=lambda lg: lg.task != task):  # this task's entries first
        for e in lg.entries:
            catalog.setdefault(e.name, e)
    missing = [m for m in methods if m not in catalog]
    if missing:
        m = missing[0]
        raise UnknownNameError(
            f"no bundled league entry {m!r}{did_you_mean(m, list(catalog))}; entries: {', '.join(sorted(catalog))}"
        )
    if "none" not in methods:
        methods = [*methods, "none"]
    model = next((lg for lg in leagues if lg.task == task), leagues[0])
    return League(
        f"{task}-custom",
        "methods chosen on the command line",
        task,
        "none",
        tuple(catalog[m] for m in methods),
        model.full,
        model.quick,
        model.settings if model.task == task else Settings(),
    )


def pick(
    league: League, selection: dict[str, list[tuple[float, RunConfig]]], rows: dict[str, RunRow]
) -> tuple[dict[str, float | None], dict[str, list[tuple[float, float | None]]]]:
    """Each entry's best value by validation accuracy (ties: the smaller value), and the scores."""
    picks: dict[str, float | None] = {}
    scores: dict[str, list[tuple[float, float | None]]] = {}
    for name, trials in selection.items():
        scored = []
        for v, c in trials:
            r = rows.get(c.key)
            s = r.value("test_acc") if r is not None and r.status == "done" else None
            scores.setdefault(name, []).append((v, s))
            if s is not None and math.isfinite(s):
                scored.append((s, -v))
        picks[name] = -max(scored)[1] if scored else None
    return picks, scores


def rank_with_ties(estimates: list[tuple[float, float, float]]) -> list[int]:
    """(mean, low, high) each -> rank: 1 + the number whose interval lies wholly above (higher
    is better), so entries with overlapping intervals can share a rank."""
    return [1 + sum(o[1] > e[2] for o in estimates) for e in estimates]


def table(
    league: League,
    finals: dict[str, list[RunConfig]],
    rows: dict[str, RunRow],
    picks: dict[str, float | None],
    scores: dict[str, list[tuple[float, float | None]]],
    quick: bool,
) -> dict[str, Any]:
    """The league's result (plain data, as stored): one row per entry, best mean first."""
    from reglab.bench.measures import RANGES

    done = {
        n: [rows[c.key] for c in cs if c.key in rows and rows[c.key].status == "done"]
        for n, cs in finals.items()
    }
    base = [r.step_ms for r in done[league.baseline] if r.step_ms]
    base_ms = sum(base) / len(base) if base else math.nan
    out = []
    for e in league.entries:
        est = t_interval([r.value("test_acc") for r in done[e.name]], RANGES["test_acc"])
        ms = [r.step_ms for r in done[e.name] if r.step_ms]
        out.append(
            {
                "entry": e.name,
                "param": e.space.path if e.space else None,
                "pick": picks.get(e.name),
                "validation": scores.get(e.name, []),
                "mean": est.mean,
                "low": est.low,
                "high": est.high,
                "n": est.n,
                "runs": len(finals[e.name]),
                "cost": (sum(ms) / len(ms)) / base_ms if ms and base_ms > 0 else math.nan,
                "keys": [c.key for c in finals[e.name]],
            }
        )
    ranks = rank_with_ties([(r["mean"], r["low"], r["high"]) for r in out])
    for r, k in zip(out, ranks):
        r["rank"] = k
    out.sort(key=lambda r: (r["rank"], -r["mean"] if math.isfinite(r["mean"]) else math.inf))
    form = league.form(quick)
    return {
        "league": league.name,
        "description": league.description,
        "task": league.task,
        "mode": "quick" if quick else "full",
        "points": form.points,
        "seeds": form.seeds,
        "steps": next(iter(finals.values()))[0].steps,
        "baseline": league.baseline,
        "rows": out,
    }


def league_png(path: Path, result: dict[str, Any]) -> Path:
    """A PNG of a stored league table: test accuracy with its 95% interval, one row a method."""
    from reglab.bench.plots import _pyplot

    plt = _pyplot()
    rows = result["rows"]
    fig, ax = plt.subplots(figsize=(6, 0.45 * len(rows) + 1.2))
    for y, r in enumerate(reversed(rows)):
        if not math.isfinite(r["mean"]):
            continue
        low = r["low"] if math.isfinite(r["low"]) else r["mean"]
        high = r["high"] if math.isfinite(r["high"]) else r["mean"]
        ax.errorbar(
            r["mean"],
            y,
            xerr=[[r["mean"] - low], [high - r["mean"]]],
            fmt="o",
            capsize=3,
            color="tab:gray" if r["entry"] == result["baseline"] else "tab:blue",
        )
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([f"{r['rank']}. {r['entry']}" for r in reversed(rows)], fontsize=8)
    ax.set_xlabel("test_acc (95% interval over seeds)")
    ax.set_title(f"{result['league']} on {result['task']} ({result['mode']})", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
