"""``reglab list`` and ``reglab show``: browse the method registry."""

from __future__ import annotations

import argparse

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
    table = Table(title="reglab methods", show_lines=False)
    for col in ("name", "family", "kind", "paper", "year"):
        table.add_column(col, overflow="fold")
    shown = 0
    for entry in registry.entries():
        if family is not None and entry.family is not family:
            continue
        table.add_row(
            entry.name, entry.family.value, entry.kind.value, entry.paper.title, str(entry.paper.year)
        )
        shown += 1
    console.print(table)
    console.print(f"{shown} methods. `reglab show NAME` prints a method's card.")
    return 0


def run_show(args: argparse.Namespace, console: Console) -> int:
    entry = registry.get(args.name)
    caps = ", ".join(entry.capabilities.flags()) or "none"
    defaults = ", ".join(f"{k}={v!r}" for k, v in entry.defaults.items()) or "none"
    console.print(f"[bold]{entry.name}[/bold]  ({entry.family.value}, {entry.kind.value})", highlight=False)
    # soft_wrap: keep the card's own line breaks (equations, tables) instead of re-wrapping
    for text in (f"paper: {entry.paper.cite()}", f"needs: {caps}", f"defaults: {defaults}\n", entry.card):
        console.print(text, highlight=False, markup=False, soft_wrap=True)
    return 0
