"""Console output of the bench commands: the progress bar and the result tables (rich)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table


@contextmanager
def progress(
    console: Console, what: str
) -> Iterator[tuple[Callable[[int], None], Callable[..., None]]]:
    """A progress bar over runs; yields ``(start(total), advance(config, result))`` callbacks."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as view:
        bar = view.add_task(what, total=None)

        def start(total: int) -> None:
            view.update(bar, total=total)

        def advance(config: Any, result: Any) -> None:
            status = "" if result.status == "done" else f" ({result.status})"
            view.update(
                bar, advance=1, description=f"{what}: {config.recipe} seed {config.seed}{status}"
            )

        yield start, advance


def cell(est: Any, digits: int = 3) -> str:
    """An ``Estimate`` as "mean [low, high]" (just the mean for one seed, "-" for none)."""
    if est.n == 0:
        return "-"
    if est.n < 2:
        return f"{est.mean:.{digits}f}"
    return f"{est.mean:.{digits}f} [{est.low:.{digits}f}, {est.high:.{digits}f}]"


def effect(check: dict[str, Any]) -> str:
    """One evaluated check as "mean [low, high] for <check>" (differences signed)."""
    sign = "+" if check.get("compare") == "difference" else ""  # differences are signed
    if check["n"] == 0:
        return f"{check['check']}: no runs"
    if check["n"] < 2:
        return f"{check['mean']:{sign}.3g} (1 seed) for {check['check']}"
    return f"{check['mean']:{sign}.3g} [{check['low']:{sign}.3g}, {check['high']:{sign}.3g}] for {check['check']}"


def effects(result: dict[str, Any]) -> str:
    """The headline check, then any further check with its own verdict."""
    first, *rest = result["checks"]
    return "\n".join([effect(first), *(f"and {effect(c)}: {c['verdict']}" for c in rest)])


def claims_table(results: list[dict[str, Any]], title: str) -> Table:
    """The table ``reglab reproduce`` prints: claim, paper, measured effects, verdict."""
    table = Table(title=title, show_lines=True)
    for col, width in (
        ("claim", 38),
        ("paper", 28),
        ("measured effect, 95% interval over seeds", 52),
        ("verdict", 12),
    ):
        table.add_column(col, overflow="fold", max_width=width)
    style = {"held": "green", "not held": "red", "inconclusive": "yellow"}
    for r in results:
        verdict = f"[{style.get(r['verdict'], 'default')}]{escape(r['verdict'])}[/]"
        table.add_row(escape(r["id"]), escape(r["paper"]), escape(effects(r)), verdict)
    return table
