"""Console output of the bench commands: the progress bar and the result tables (rich)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table


@contextmanager
def progress(
    console: Console, what: str, every: float = 10.0
) -> Iterator[tuple[Callable[[int], None], Callable[..., None]]]:
    """Progress over runs; yields ``(start(total), advance(config, result))`` callbacks.

    On a terminal: a live bar. Otherwise (a log, ``make demo > log``): a plain line when the
    sweep starts, then one at most every ``every`` seconds, for every run that did not finish
    and for the last run, so that a long sweep never looks hung.
    """
    if not console.is_terminal:
        yield _progress_lines(console, what, every)
        return
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


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}:{seconds:02d}"


def _progress_lines(
    console: Console, what: str, every: float
) -> tuple[Callable[[int], None], Callable[..., None]]:
    """The callbacks of ``progress`` that print plain lines (no terminal)."""
    began = time.monotonic()
    state = {"total": 0, "done": 0, "printed": began}

    def say(text: str) -> None:
        console.print(
            f"[{_clock(time.monotonic() - began)}] {what}: {text}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )

    def start(total: int) -> None:
        state["total"] = total
        say(f"{total} run(s) to do")

    def advance(config: Any, result: Any) -> None:
        state["done"] += 1
        now, bad = time.monotonic(), result.status != "done"
        if bad or state["done"] >= state["total"] or now - state["printed"] >= every:
            state["printed"] = now
            status = f" ({result.status})" if bad else ""
            say(
                f"{state['done']}/{state['total']} runs, last {config.recipe} seed {config.seed}{status}"
            )

    return start, advance


CLIPPED = "*"  # marks an interval clipped to its metric's range
CLIPPED_NOTE = f"{CLIPPED} interval clipped to the metric's range (accuracy [0, 1], times >= 0)"


def cell(est: Any, digits: int = 3) -> str:
    """An ``Estimate`` as "mean [low, high]" (just the mean for one seed, "-" for none).

    A clipped interval ends with ``CLIPPED``.
    """
    if est.n == 0:
        return "-"
    if est.n < 2:
        return f"{est.mean:.{digits}f}"
    mark = CLIPPED if est.clipped else ""
    return f"{est.mean:.{digits}f} [{est.low:.{digits}f}, {est.high:.{digits}f}]{mark}"


def censored_text(check: dict[str, Any]) -> str:
    """ "3/3 adamw never reached it" for the arms with censored runs ("" when none)."""
    parts = [f"{k}/{n} {arm}" for arm, (k, n) in (check.get("censored") or {}).items()]
    return f"{', '.join(parts)} never reached it" if parts else ""


def effect(check: dict[str, Any]) -> str:
    """One evaluated check as "mean [low, high] for <check>" (differences signed).

    A censored check (see ``reglab.bench.stats``) shows its one-sided bound, "≥ low" or
    "≤ high", and how many runs of each arm never reached the threshold; never an interval.
    """
    sign = "+" if check.get("compare") == "difference" else ""  # differences are signed
    if check["n"] == 0:
        return f"{check['check']}: no runs"
    censored = censored_text(check)
    tail = f" ({censored})" if censored else ""
    if check["n"] < 2:
        return f"{check['mean']:{sign}.3g} (1 seed) for {check['check']}{tail}"
    bound = check.get("bound")
    if bound == "lower":
        value = f"≥ {check['low']:{sign}.3g}"
    elif bound == "upper":
        value = f"≤ {check['high']:{sign}.3g}"
    elif bound == "both":
        value = f"{check['mean']:{sign}.3g} (censored both ways: no bound)"
    else:
        mark = CLIPPED if check.get("clipped") else ""
        value = (
            f"{check['mean']:{sign}.3g} [{check['low']:{sign}.3g}, {check['high']:{sign}.3g}]{mark}"
        )
    return f"{value} for {check['check']}{tail}"


def effects(result: dict[str, Any]) -> str:
    """The headline check, then any further check with its own verdict."""
    first, *rest = result["checks"]
    return "\n".join([effect(first), *(f"and {effect(c)}: {c['verdict']}" for c in rest)])


WIDE = 110  # below this console width the claims table leaves out the paper column


def claims_table(results: list[dict[str, Any]], title: str, width: int = WIDE) -> Table:
    """The table ``reglab reproduce`` prints: claim, paper, measured effects, verdict.

    Claim ids and verdicts are never broken. On a console narrower than ``WIDE`` (``width``),
    the verdict goes under the claim id and the paper is left out (``reglab reproduce --list``
    names it), so the table stays readable in an 80-column log.
    """
    style = {"held": "green", "not held": "red", "inconclusive": "yellow"}
    clipped = any(c.get("clipped") for r in results for c in r["checks"])
    table = Table(title=title, show_lines=True, caption=CLIPPED_NOTE if clipped else None)
    id_width = max([len("claim"), *(len(r["id"]) for r in results)])
    narrow = width < WIDE
    table.add_column("claim" + (" / verdict" if narrow else ""), no_wrap=True, min_width=id_width)
    if not narrow:
        table.add_column("paper", overflow="fold", max_width=28)
    table.add_column("measured effect, 95% interval over seeds", ratio=1)
    if not narrow:
        table.add_column("verdict", no_wrap=True)
    for r in results:
        verdict = f"[{style.get(r['verdict'], 'default')}]{escape(r['verdict'])}[/]"
        if narrow:
            table.add_row(f"{escape(r['id'])}\n{verdict}", escape(effects(r)))
        else:
            table.add_row(escape(r["id"]), escape(r["paper"]), escape(effects(r)), verdict)
    return table
