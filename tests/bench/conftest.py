"""Fixtures of the harness tests (the helpers live in bench_helpers.py)."""

from bench_helpers import stand_ins  # noqa: F401  (a fixture)
