"""Entry point of the ``reglab`` command: parses arguments and maps user errors to exit code 2."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from rich.console import Console

from reglab._core.registry import UnknownNameError

# Modules that add sub-commands, each with ``add_commands(subparsers)``; the benchmark's are
# optional so the registry commands work without its extra dependencies.
_COMMAND_MODULES = ("reglab._cli.registry_commands", "reglab.bench.cli", "reglab.bench.cli_tune")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reglab", description="Regularization methods from the literature, and their claims."
    )
    from reglab import __version__

    parser.add_argument("--version", action="version", version=f"reglab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name is None or not name.startswith(e.name):
                raise  # a dependency of the module is missing: say so
            continue
        module.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    import reglab  # noqa: F401  (fills the registry)

    args = build_parser().parse_args(argv)
    console = Console()
    try:
        return int(args.run(args, console))
    except (UnknownNameError, ValueError, FileNotFoundError) as e:
        _say(f"reglab {args.command}: error: {e}")
        return 2
    except KeyboardInterrupt as e:  # the sweep's message says what was kept and how to resume
        detail = f": {e}" if str(e) else ""
        _say(f"interrupted{detail}")
        return 130



def _say(message: str) -> None:
    """A message on stderr, never folded: a path in it stays whole in a log or a narrow terminal."""
    Console(stderr=True, soft_wrap=True).print(message, highlight=False, markup=False)


if __name__ == "__main__":
    sys.exit(main())
