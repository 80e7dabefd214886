"""``reglab tune`` (search one hyperparameter on validation) and ``reglab compare`` (league tables).

Both run through the same store and sweep as ``reglab bench``: every trial is a run keyed by its
config, so a killed command, started again, skips what is stored and repeats nothing.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table


def add_commands(sub: argparse._SubParsersAction) -> None:
    from reglab.bench.cli import _common

    p = sub.add_parser("tune", help="search one hyperparameter of a recipe on a validation split")
    p.add_argument("--task", required=True, help="task name (see reglab bench --list)")
    p.add_argument("--recipe", required=True, help="recipe .yaml file or bundled recipe name")
    p.add_argument(
        "--param",
        required=True,
        metavar="PATH=SCALE:LOW:HIGH",
        help="e.g. methods.0.strength=log:1e-5:1e-1 (SCALE log or linear)",
    )
    p.add_argument("--trials", type=int, default=8, help="trials (grid points) (default 8)")
    p.add_argument(
        "--sampler",
        choices=("grid", "tpe"),
        default="grid",
        help="grid (default) or tpe (Optuna: pip install 'reglab[tune]')",
    )
    p.add_argument("--seed", type=int, default=0, help="run seed of every trial, and TPE's seed")
    p.add_argument(
        "--batch",
        type=int,
        default=2,
        help="TPE trials asked at once and run in parallel (keep it when resuming; default 2)",
    )
    p.add_argument("--validation", type=float, default=0.2, help="fraction of train held out")
    p.add_argument("--metric", default="test_acc", help="final metric scored on validation")
    p.add_argument("--minimize", action="store_true", help="lower is better (e.g. a loss)")
    p.add_argument("--steps", type=int, help="optimizer steps (default: the task's)")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    p.add_argument(
        "--plot", default=None, metavar="PNG", help="default RESULTS/tune-TASK-RECIPE.png"
    )
    _common(p)
    p.set_defaults(run=run_tune)

    p = sub.add_parser("compare", help="league table: methods at strengths tuned on validation")
    p.add_argument("league", nargs="?", help="bundled league name or .yaml file (see --list)")
    p.add_argument("--task", help="with --methods: an ad-hoc league on this task")
    p.add_argument("--methods", nargs="+", metavar="ENTRY", help="bundled league entries")
    p.add_argument("--quick", action="store_true", help="the league's reduced budget")
    p.add_argument("--list", action="store_true", help="list the bundled leagues, then exit")
    _common(p)
    p.set_defaults(run=run_compare)


def _run(
    args: argparse.Namespace, console: Console, configs: list[Any], what: str
) -> dict[str, Any]:
    """Run what the store lacks of ``configs``; their stored rows by key."""
    from reglab.bench.cli import _sweep

    store = _sweep(args, console, configs, what)
    with store:
        return {r.key: r for r in store.runs({c.key for c in configs})}


def run_tune(args: argparse.Namespace, console: Console) -> int:
    from reglab.bench.cli import parse_sets
    from reglab.bench.recipes import load_recipe
    from reglab.bench.runs import Settings
    from reglab.bench.search import Sampler, parse_space, score_plot, search, trial_config

    space = parse_space(args.param)
    recipe = load_recipe(args.recipe)
    sets = parse_sets(args.set)
    budget = {"steps": args.steps} if args.steps is not None else {}
    settings = [
        Settings(data=sets["data"], model=sets["model"], optimizer=sets["optimizer"], budget=budget)
    ]
    if not 0 < args.validation < 1:
        raise ValueError(f"--validation must be in (0, 1), got {args.validation}")

    def make(value: float) -> Any:
        return trial_config(
            args.task, recipe, space.path, value, args.seed, settings, args.validation
        )

    make(space.low)  # a bad path or option fails here, before anything runs

    def evaluate(configs: Any) -> dict[str, float | None]:
        rows = _run(args, console, list(configs), f"tune {recipe.name}")
        return {k: (r.value(args.metric) if r.status == "done" else None) for k, r in rows.items()}

    result = search(
        space,
        make,
        evaluate,
        args.trials,
        Sampler(args.sampler),
        args.seed,
        args.batch,
        maximize=not args.minimize,
    )
    table = Table(
        title=f"{args.task} / {recipe.name}: {args.metric} on validation, by {space.path}"
    )
    table.add_column("trial")
    table.add_column(space.name)
    table.add_column(args.metric)
    best = result.best
    for i, t in enumerate(result.trials):
        mark = " (best)" if best is not None and t.key == best.key else ""
        table.add_row(
            str(i), f"{t.value:g}", ("failed" if t.score is None else f"{t.score:.4f}") + mark
        )
    console.print(table)
    plot = (
        Path(args.plot) if args.plot else Path(args.results) / f"tune-{args.task}-{recipe.name}.png"
    )
    score_plot(plot, result, f"{args.task} / {recipe.name}", args.metric)
    if best is None:
        console.print("every trial failed or diverged", highlight=False)
        return 1
    console.print(
        f"best: {space.path}={best.value:g} ({args.metric} {best.score:.4f} on validation); "
        f"plot: {plot}",
        highlight=False,
    )
    return 0


def _fmt(x: float | None, digits: int = 3) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def run_compare(args: argparse.Namespace, console: Console) -> int:
    from reglab.bench.compare import bundled_leagues, league_for, load_league, pick, table
    from reglab.bench.store import Store

    if args.list:
        for name in bundled_leagues():
            lg = load_league(name)
            console.print(
                f"[bold]{name}[/bold] ({lg.task}): {', '.join(e.name for e in lg.entries)}",
                highlight=False,
            )
        return 0
    if args.methods:
        if not args.task or args.league:
            raise ValueError("--methods needs --task and no league name")
        league = league_for(args.task, args.methods)
    elif args.league:
        league = load_league(args.league)
    else:
        raise ValueError("name a league (see reglab compare --list) or give --task and --methods")
    selection = league.selection_configs(args.quick)
    configs = [c for trials in selection.values() for _, c in trials]
    rows = (
        _run(args, console, configs, f"compare {league.name}: choose strengths") if configs else {}
    )
    picks, scores = pick(league, selection, rows)
    finals = league.final_configs(picks, args.quick)
    rows = _run(
        args, console, [c for cs in finals.values() for c in cs], f"compare {league.name}: seeds"
    )
    result = table(league, finals, rows, picks, scores, args.quick)
    with Store(Path(args.results) / "results.db") as store:
        store.write_claim(league.name, f"league {result['mode']}", result)
    t = Table(
        title=f"{league.name} on {league.task} ({result['mode']}: {result['points']} values per "
        f"method on validation, then {result['seeds']} seeds, {result['steps']} steps)"
    )
    for col in ("rank", "method", "chosen", "test_acc [95% interval]", "cost"):
        t.add_column(col, overflow="fold")
    for r in result["rows"]:
        chosen = (
            "-"
            if r["param"] is None
            else f"{r['param'].rsplit('.', 1)[-1]}={r['pick']:g}"
            if r["pick"] is not None
            else "all failed"
        )
        t.add_row(
            str(r["rank"]),
            r["entry"],
            chosen,
            f"{_fmt(r['mean'])} [{_fmt(r['low'])}, {_fmt(r['high'])}] ({r['n']}/{r['runs']})",
            f"{_fmt(r['cost'], 2)}x",
        )
    t.caption = (
        "rank: 1 + methods whose interval lies wholly above (ties where intervals overlap); "
        f"cost: step time / {league.baseline}'s, measured in the same sweep"
    )
    console.print(t)
    console.print(
        f"`reglab report --results {args.results}` adds a page for this table.", highlight=False
    )
    return 0
