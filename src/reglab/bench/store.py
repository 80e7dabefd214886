"""The results store: one SQLite file (WAL mode) holding runs, their curves and claim verdicts.

Schema (version ``SCHEMA_VERSION``, recorded in table ``meta``):

- ``runs``: key (hash of the resolved config, primary key), task, recipe, seed, config JSON,
  versions JSON, status (done / diverged / failed), message, final metrics JSON, wall_s,
  step_ms, finished (unix time).
- ``curves``: (key, step, metric, value), primary key (key, step, metric).
- ``claims``: the latest verdict of each claim in each mode (quick / full), with the measured
  effect, its interval and the keys of the runs it was computed from.

A run is written in one transaction when it ends, so a sweep killed at any moment leaves only
whole runs. A finished key (done or diverged) is never run again; a failed one is replaced by
its rerun. A store written by a newer schema is refused, never modified.

>>> import tempfile, pathlib
>>> store = Store(pathlib.Path(tempfile.mkdtemp()) / "results.db")
>>> store.finished_keys()
set()
>>> store.close()
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from reglab.bench.runs import RunConfig, Status

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    key TEXT PRIMARY KEY, task TEXT NOT NULL, recipe TEXT NOT NULL, seed INTEGER NOT NULL,
    config TEXT NOT NULL, versions TEXT NOT NULL, status TEXT NOT NULL, message TEXT NOT NULL,
    metrics TEXT NOT NULL, wall_s REAL, step_ms REAL, finished REAL NOT NULL);
CREATE TABLE IF NOT EXISTS curves (
    key TEXT NOT NULL, step INTEGER NOT NULL, metric TEXT NOT NULL, value REAL,
    PRIMARY KEY (key, step, metric));
CREATE TABLE IF NOT EXISTS claims (
    claim TEXT NOT NULL, mode TEXT NOT NULL, result TEXT NOT NULL, evaluated REAL NOT NULL,
    PRIMARY KEY (claim, mode));
"""


class StoreVersionError(ValueError):
    """The store was written by a newer reglab (a higher schema version)."""


@dataclass(frozen=True)
class RunRow:
    """One stored run: its config, status, final metrics and timings."""

    key: str
    config: RunConfig
    status: Status
    message: str
    metrics: dict[str, float]
    wall_s: float | None
    step_ms: float | None
    versions: dict[str, str]

    def value(self, metric: str) -> float | None:
        """A final metric; ``step_ms`` comes from its column."""
        return self.step_ms if metric == "step_ms" else self.metrics.get(metric)


def _nan_safe(values: dict[str, float]) -> str:
    return json.dumps({k: (None if math.isnan(v) else v) for k, v in values.items()})


class Store:
    """Open (or create) the store at ``path``; use as a context manager or call ``close()``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            self._check_version()
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            with self._transaction():
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    self.db.execute(statement)
                self.db.execute(
                    "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )
        except BaseException:
            self.db.close()
            raise

    def _check_version(self) -> None:
        try:
            row = self.db.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
        except sqlite3.OperationalError:  # a new file, or not a reglab store yet
            return
        except sqlite3.DatabaseError as e:
            raise ValueError(f"results store {self.path} is not a SQLite database ({e})") from None
        if row is not None and int(row[0]) > SCHEMA_VERSION:
            raise StoreVersionError(
                f"results store {self.path} was written by a newer reglab (schema version {row[0]}, "
                f"this reglab reads up to {SCHEMA_VERSION}); upgrade reglab or use another --results "
                "folder. The store was not changed."
            )

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """All statements inside commit together or not at all (Ctrl-C included)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def finished_keys(self) -> set[str]:
        """Keys that are never run again: status done or diverged."""
        rows = self.db.execute(
            "SELECT key FROM runs WHERE status IN (?, ?)", (Status.DONE, Status.DIVERGED)
        )
        return {r[0] for r in rows}

    def write(self, config: RunConfig, result: Any) -> None:
        """Write a finished run and its curves in one transaction (replacing a failed attempt)."""
        key = config.key
        with self._transaction():
            self.db.execute("DELETE FROM curves WHERE key = ?", (key,))
            self.db.execute(
                "INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    config.task,
                    config.recipe,
                    config.seed,
                    json.dumps(config.to_dict(), sort_keys=True),
                    json.dumps(result.versions),
                    str(result.status),
                    result.message,
                    _nan_safe(result.metrics),
                    result.wall_s,
                    result.step_ms,
                    time.time(),
                ),
            )
            self.db.executemany(
                "INSERT INTO curves VALUES (?, ?, ?, ?)",
                [
                    (key, s, m, None if isinstance(v, float) and math.isnan(v) else v)
                    for s, m, v in result.curves
                ],
            )

    def runs(self, keys: Iterable[str] | None = None) -> list[RunRow]:
        """All runs, or those with ``keys``, oldest first."""
        query = "SELECT key, config, status, message, metrics, wall_s, step_ms, versions FROM runs"
        rows = self.db.execute(query + " ORDER BY finished, key").fetchall()
        wanted = set(keys) if keys is not None else None
        return [
            RunRow(
                k,
                RunConfig.from_dict(json.loads(c)),
                Status(s),
                msg,
                {m: (float("nan") if v is None else v) for m, v in json.loads(mt).items()},
                w,
                sm,
                json.loads(vs),
            )
            for k, c, s, msg, mt, w, sm, vs in rows
            if wanted is None or k in wanted
        ]

    def curves(self, key: str) -> dict[str, list[tuple[int, float]]]:
        """metric -> [(step, value), ...] of one run, by step."""
        out: dict[str, list[tuple[int, float]]] = {}
        for step, metric, value in self.db.execute(
            "SELECT step, metric, value FROM curves WHERE key = ? ORDER BY step", (key,)
        ):
            out.setdefault(metric, []).append((step, float("nan") if value is None else value))
        return out

    def write_claim(self, claim: str, mode: str, result: dict[str, Any]) -> None:
        with self._transaction():
            self.db.execute(
                "INSERT OR REPLACE INTO claims VALUES (?, ?, ?, ?)",
                (claim, mode, json.dumps(result), time.time()),
            )

    def claims(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(claim id, mode, result) of every stored verdict, by mode, in the order evaluated."""
        rows = self.db.execute("SELECT claim, mode, result FROM claims ORDER BY mode, evaluated")
        return [(c, m, json.loads(r)) for c, m, r in rows]
