"""``reglab list`` and ``reglab show``: browse the method registry."""

from __future__ import annotations

import argparse
from enum import Enum

from rich import box
from rich.console import Console
from rich.table import Table

from reglab._core import registry
from reglab._core.validation import check_choice


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", help="list the registered methods")
    p.add_argument(
        "--family",
        help="only this family: " + ", ".join(f.value for f in registry.Family),
    )
    p.set_defaults(run=run_list)
    p = sub.add_parser("show", help="print a method's card (equation, arguments, paper, traps)")
    p.add_argument("name")
    p.set_defaults(run=run_show)


def run_list(args: argparse.Namespace, console: Console) -> int:
    family = None if args.family is None else check_choice("--family", args.family, registry.Family)
    entries = [e for e in registry.entries() if family is None or e.family is family]
    # names, families and kinds whole (never broken mid-word); the paper title wraps. On a
    # narrow console (an 80-column log) kind goes under family to leave the paper some room.
    narrow = console.width < 100
    table = Table(title="reglab methods", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("name", no_wrap=True, min_width=max((len(e.name) for e in entries), default=4))
    kinds = ["family", "kind"] if not narrow else ["family / kind"]
    for col in kinds:
        table.add_column(col, no_wrap=True)
    table.add_column("paper", ratio=1, overflow="fold")
    table.add_column("year", no_wrap=True)
    shown = 0
    for entry in entries:
        what = [entry.family.value, entry.kind.value]
        table.add_row(
            entry.name,
            *(["\n".join(what)] if narrow else what),
            entry.paper.title,
            str(entry.paper.year),
        )
        shown += 1
    console.print(table)
    console.print(f"{shown} methods. `reglab show NAME` prints a method's card.")
    return 0


def run_show(args: argparse.Namespace, console: Console) -> int:
    entry = registry.get(args.name)
    caps = ", ".join(entry.capabilities.flags()) or "none"
    defaults = ", ".join(f"{k}={_shown(v)}" for k, v in entry.defaults.items()) or "none"
    console.print(f"[bold]{entry.name}[/bold]  ({entry.family.value}, {entry.kind.value})", highlight=False)
    # soft_wrap: keep the card's own line breaks (equations, tables) instead of re-wrapping
    for text in (
        f"paper: {entry.paper.cite()}",
        f"needs: {caps}",
        f"defaults: {defaults}",
        _claims_line(entry.name) + "\n",
        entry.card,
    ):
        console.print(text, highlight=False, markup=False, soft_wrap=True)
    return 0


def _claims_line(name: str) -> str:
    """The bundled claims that use method ``name`` (generated from claims.yaml)."""
    try:
        from reglab.bench.claims import claims_using
    except ModuleNotFoundError:  # without the bench extra
        return "claims: (install reglab[bench] to see the claims that use it)"
    ids = claims_using(name)
    if not ids:
        return "claims: none checked by the harness (`reglab reproduce --list`)"
    return f"claims checked by `reglab reproduce`: {', '.join(ids)}"


def _shown(value: object) -> str:
    """A default as a user would write it: ``MixoutMask.NEURON``, not its ``repr``."""
    if isinstance(value, Enum):
        return f"{type(value).__name__}.{value.name}"
    return repr(value)
