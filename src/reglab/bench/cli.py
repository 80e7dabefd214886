"""``reglab bench``, ``reglab reproduce`` and ``reglab report``.

Heavy dependencies (scikit-learn, mnist1d, matplotlib, Ray) are imported inside the handlers,
so ``reglab list`` works without the ``bench`` extra.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from reglab.bench._console import CLIPPED_NOTE, cell, claims_table, progress

RESULTS = "reglab-results"


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--results",
        default=RESULTS,
        metavar="DIR",
        help=f"results folder: the store DIR/results.db and a data cache (default {RESULTS})",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="runs at a time, one CPU thread each (default: the number of CPUs)",
    )
    p.add_argument(
        "--backend",
        choices=("local", "ray"),
        default="local",
        help="local process pool (default) or Ray (pip install 'reglab[ray]')",
    )
    p.add_argument(
        "--address", default=None, help="address of an existing Ray cluster (--backend ray)"
    )
    p.add_argument(
        "--reuse-stale",
        action="store_true",
        help="keep stored runs made by other reglab code instead of running them again "
        "(results from them are marked stale)",
    )


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="run recipes on a task over seeds; results go to the store")
    p.add_argument("--task", help="task name (see --list)")
    p.add_argument(
        "--recipes",
        nargs="+",
        default=["none"],
        metavar="RECIPE",
        help="recipe .yaml files or bundled recipe names (default: none, the baseline)",
    )
    p.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (default 3)")
    p.add_argument("--steps", type=int, help="optimizer steps (default: the task's)")
    p.add_argument("--batch-size", help="mini-batch size, or 'full' (default: the task's)")
    p.add_argument("--eval-every", type=int, help="steps between evaluations (default: the task's)")
    p.add_argument(
        "--data",
        metavar="FILE",
        help="your own data: a .npz/.pt file with arrays x, y (and optionally x_test, y_test)",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override a data/model/optimizer setting, e.g. optimizer.lr=0.01 (repeatable)",
    )
    p.add_argument(
        "--list", action="store_true", help="list the tasks and bundled recipes, then exit"
    )
    _common(p)
    p.set_defaults(run=run_bench)

    p = sub.add_parser("reproduce", help="run the papers' claims and print held / not held")
    p.add_argument("claims", nargs="*", metavar="CLAIM", help="claim ids (default: all)")
    p.add_argument(
        "--quick",
        action="store_true",
        help="a chosen subset at reduced budgets (about 5 minutes on 2 cores)",
    )
    p.add_argument(
        "--claims-file", metavar="FILE", help="a claims YAML file (default: the bundled one)"
    )
    p.add_argument("--list", action="store_true", help="list the claims, then exit")
    p.add_argument(
        "--timing",
        action="store_true",
        help="then print where the time went: per claim, training steps vs evaluation",
    )
    _common(p)
    p.set_defaults(run=run_reproduce)

    p = sub.add_parser(
        "report", help="write report/index.html and report/summary.md from the store"
    )
    p.add_argument(
        "--results", default=RESULTS, metavar="DIR", help=f"results folder (default {RESULTS})"
    )
    p.add_argument("--out", default="report", metavar="DIR", help="output folder (default report)")
    p.set_defaults(run=run_report)


def parse_sets(items: list[str]) -> dict[str, dict[str, Any]]:
    """``["optimizer.lr=0.01", "data.p=59"]`` -> {"optimizer": {"lr": 0.01}, "data": {"p": 59}}."""
    import yaml

    from reglab.bench._config import numbers

    out: dict[str, dict[str, Any]] = {"data": {}, "model": {}, "optimizer": {}}
    for item in items:
        name, sep, value = item.partition("=")
        section, dot, key = name.partition(".")
        if not sep or not dot or section not in out or not key:
            raise ValueError(
                f"--set {item!r}: write SECTION.KEY=VALUE with SECTION one of data, model, optimizer"
            )
        out[section][key] = numbers(yaml.safe_load(value))
    return out


def _sweep(args: argparse.Namespace, console: Console, configs: list[Any], what: str) -> Any:
    from reglab.bench.backends import make_backend
    from reglab.bench.store import Store
    from reglab.bench.sweep import run_sweep

    backend = make_backend(args.backend, args.workers, args.address)
    results = Path(args.results)
    store = Store(results / "results.db")
    keys = {c.key for c in configs}
    waited: set[int] = set()

    def on_wait(claims: dict[str, int]) -> None:
        if not set(claims.values()) <= waited:
            waited.update(claims.values())
            pids = ", ".join(map(str, sorted(set(claims.values()))))
            console.print(
                f"waiting for {len(claims)} run(s) that another sweep (process {pids}) is training",
                highlight=False,
            )

    try:
        with progress(console, what) as (start, advance):
            summary = run_sweep(
                configs,
                store,
                backend,
                results / "cache",
                on_result=advance,
                on_start=start,
                reuse_stale=args.reuse_stale,
                on_wait=on_wait,
            )
    except KeyboardInterrupt:
        kept = len(store.finished_keys(include_stale=args.reuse_stale) & keys)
        store.close()
        raise KeyboardInterrupt(
            f"{kept} of {len(keys)} run(s) are kept in {store.path}; run the same command again "
            "to resume (kept runs are not run again)"
        ) from None
    except BaseException:
        store.close()
        raise
    if summary.stale:
        console.print(
            f"{summary.stale} run(s) in the store were made by other reglab code (stale) and "
            + (
                "were kept (--reuse-stale); results from them are marked stale."
                if args.reuse_stale
                else "were run again."
            ),
            highlight=False,
        )
    if summary.by_others:
        console.print(
            f"{summary.by_others} run(s) were made meanwhile by another sweep on {store.path}.",
            highlight=False,
        )
    if summary.skipped:
        console.print(
            f"{summary.skipped} run(s) were already in {store.path} and were not run again."
        )
    return store


def _batch_size(text: str | None) -> int | str | None:
    if text is None or text == "full":
        return text
    if not text.isdigit():
        raise ValueError(f"--batch-size must be a positive integer or 'full', got {text!r}")
    return int(text)


def run_bench(args: argparse.Namespace, console: Console) -> int:
    from reglab.bench.recipes import bundled_recipes, load_recipe
    from reglab.bench.runs import Settings, resolve
    from reglab.bench.stats import t_interval
    from reglab.bench.tasks import TASKS

    if args.list:
        table = Table(title="tasks")
        table.add_column("task", no_wrap=True, min_width=max(len(t) for t in TASKS))
        for col in ("data", "model", "optimizer", "steps"):
            table.add_column(col, overflow="fold")
        for t in TASKS.values():
            table.add_row(
                t.name,
                t.summary,
                f"{t.model.arch.value} (width {t.model.width})",
                f"{t.optimizer.name.value} lr {t.optimizer.lr:g}",
                str(t.budget.steps),
            )
        console.print(table)
        console.print("recipes: " + ", ".join(bundled_recipes()), highlight=False)
        return 0
    if not args.task:
        raise ValueError("--task is required (see reglab bench --list)")
    if args.seeds < 1:
        raise ValueError(f"--seeds must be >= 1, got {args.seeds}")
    sets = parse_sets(args.set)
    if args.data:
        sets["data"]["data_file"] = args.data
    budget = {
        k: v
        for k, v in (
            ("steps", args.steps),
            ("batch_size", _batch_size(args.batch_size)),
            ("eval_every", args.eval_every),
        )
        if v is not None
    }
    settings = Settings(
        data=sets["data"], model=sets["model"], optimizer=sets["optimizer"], budget=budget
    )
    recipes = [load_recipe(r) for r in args.recipes]
    configs = {
        r.name: [resolve(args.task, r, s, [settings]) for s in range(args.seeds)] for r in recipes
    }
    store = _sweep(args, console, [c for cs in configs.values() for c in cs], f"bench {args.task}")
    with store:
        rows = {r.key: r for r in store.runs()}
        from reglab.bench.measures import RANGES

        table = Table(title=f"{args.task}: final metrics, mean [95% interval] over seeds")
        # recipe names whole (never cut to a shared prefix); number cells wrap at their spaces
        table.add_column("recipe", no_wrap=True, min_width=max(len(n) for n in configs))
        for col in ("runs", "test_acc", "train_acc", "train_loss", "step ms"):
            table.add_column(col, overflow="fold")
        clipped = False
        for name, cs in configs.items():
            done = [rows[c.key] for c in cs if c.key in rows and rows[c.key].status == "done"]
            bad = [rows[c.key] for c in cs if c.key in rows and rows[c.key].status != "done"]
            stale = sum(rows[c.key].stale for c in cs if c.key in rows)
            ests = [
                t_interval([r.value(m) for r in done], RANGES[m])
                for m in ("test_acc", "train_acc", "train_loss")
            ]
            ests.append(t_interval([r.step_ms for r in done], RANGES["step_ms"]))
            clipped |= any(e.clipped for e in ests)
            table.add_row(
                name,
                f"{len(done)}/{len(cs)}"
                + (f" ({len(bad)} {bad[0].status})" if bad else "")
                + (f" ({stale} stale)" if stale else ""),
                *(cell(e) for e in ests[:3]),
                cell(ests[3], 1),
            )
            for r in bad:
                console.print(
                    f"{name} seed {r.config.seed}: {r.status}: {r.message}",
                    highlight=False,
                    markup=False,
                )
        if clipped:
            table.caption = CLIPPED_NOTE
        console.print(table)
        console.print(
            f"store: {store.path} (`reglab report --results {args.results}` writes plots)"
        )
        statuses = [rows[c.key].status for cs in configs.values() for c in cs if c.key in rows]
    if statuses and all(s == "failed" for s in statuses):
        Console(stderr=True, soft_wrap=True).print(
            f"reglab bench: every run failed ({len(statuses)} runs; messages above)",
            highlight=False,
        )
        return 1
    return 0


def _mark_stale(store: Any, results: list[dict[str, Any]]) -> None:
    """Note on each claim computed from stale runs (made by other code, kept by --reuse-stale)."""
    stale = {r.key for r in store.runs() if r.stale}
    for r in results:
        n = len(stale & {k for keys in r["runs"].values() for k in keys})
        if n:
            r["notes"].append(
                f"STALE: computed from {n} run(s) made by other reglab code (--reuse-stale)"
            )


def run_reproduce(args: argparse.Namespace, console: Console) -> int:
    from reglab.bench.claims import evaluate, load_claims, select_claims

    claims = select_claims(load_claims(args.claims_file), args.claims)
    if args.list:
        for c in claims:
            skip = f"  (skipped by --quick: {c.quick_skip})" if c.quick_skip else ""
            console.print(
                f"[bold]{escape(c.id)}[/bold]  {escape(c.paper)}\n    {escape(c.statement + skip)}",
                highlight=False,
            )
        return 0
    mode = "quick" if args.quick else "full"
    chosen = [c for c in claims if not (args.quick and c.quick_skip)]
    for c in claims:
        if args.quick and c.quick_skip:
            console.print(f"{c.id}: left out of --quick ({c.quick_skip})", highlight=False)
    start = time.perf_counter()
    configs = [cfg for c in chosen for cs in c.configs(args.quick).values() for cfg in cs]
    _say_plan(args, console, chosen, configs)
    store = _sweep(args, console, configs, f"reproduce ({mode})")
    with store:
        results = [evaluate(c, store, args.quick) for c in chosen]
        _mark_stale(store, results)
        for r in results:
            store.write_claim(r["id"], mode, r)
        rows = {r.key: r for r in store.runs()}
    statuses = [rows[cfg.key].status for cfg in configs if cfg.key in rows]
    elapsed = time.perf_counter() - start
    title = f"reglab reproduce{' --quick' if args.quick else ''}"
    console.print(claims_table(results, title, console.width))
    for r in results:
        for note in r["notes"]:
            console.print(f"  {r['id']}: {note}", highlight=False, markup=False)
    counts = {
        v: sum(r["verdict"] == v for r in results) for v in ("held", "not held", "inconclusive")
    }
    console.print(
        f"{counts['held']} held, {counts['not held']} not held, {counts['inconclusive']} inconclusive "
        f"in {elapsed / 60:.1f} min; `reglab report` writes the report.",
        highlight=False,
    )
    if args.timing:
        _print_timing(args, console, chosen)
    if statuses and all(s == "failed" for s in statuses):
        Console(stderr=True, soft_wrap=True).print(
            f"reglab reproduce: every run failed ({len(statuses)} runs; messages above)",
            highlight=False,
        )
        return 1
    return 0


def _say_plan(
    args: argparse.Namespace, console: Console, claims: list[Any], configs: list[Any]
) -> None:
    from reglab.bench.store import Store
    from reglab.bench.timing import estimate, plan_text

    with Store(Path(args.results) / "results.db") as store:
        est = estimate(configs, store.runs(), reuse_stale=args.reuse_stale)
    papers = len({c.paper for c in claims})
    console.print(plan_text(len(claims), papers, est, args.workers), highlight=False)


def _print_timing(args: argparse.Namespace, console: Console, claims: list[Any]) -> None:
    from reglab.bench.store import Store
    from reglab.bench.timing import TIMING_COLUMNS, claim_costs, timing_rows

    with Store(Path(args.results) / "results.db") as store:
        rows = {r.key: r for r in store.runs()}
    costs = claim_costs([(c.id, c.configs(args.quick)) for c in claims], rows)
    # An 80-column log keeps the claim ids whole and the columns that say where the time went.
    shown = range(len(TIMING_COLUMNS)) if console.width >= 120 else range(5)
    table = Table(title="where the time went (worker seconds; a shared run counts once)")
    for i in shown:
        table.add_column(TIMING_COLUMNS[i], overflow="fold", no_wrap=i == 0)
    for row in timing_rows(costs):
        table.add_row(*(row[i] for i in shown))
    console.print(table)


def run_report(args: argparse.Namespace, console: Console) -> int:
    from reglab.bench.report import write_report
    from reglab.bench.store import Store

    path = Path(args.results) / "results.db"
    if not path.exists():
        raise FileNotFoundError(
            f"no results store at {path}: run `reglab bench` or `reglab reproduce` first"
        )
    with Store(path, readonly=True) as store:
        index = write_report(store, Path(args.out))
    console.print(f"wrote {index} and {index.with_name('summary.md')}", highlight=False)
    return 0
