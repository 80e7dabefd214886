"""Run every ``benchmarks/bench_*.py`` (each has ``main()``) and print their ratios."""

import importlib
import pathlib

for path in sorted(pathlib.Path(__file__).parent.glob("bench_*.py")):
    print(f"== {path.stem}")
    importlib.import_module(f"benchmarks.{path.stem}").main()
