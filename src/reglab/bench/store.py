"""The results store: one SQLite file (WAL mode) holding runs, their curves and claim verdicts.

Schema (version ``SCHEMA_VERSION``, recorded in table ``meta``):

- ``runs``: key (hash of the resolved config, primary key), task, recipe, seed, config JSON,
  versions JSON, status (done / diverged / failed), message, final metrics JSON, wall_s,
  step_ms, finished (unix time), fingerprint (``fingerprint.code_fingerprint()`` of the code that made
  the run; empty for runs stored before schema version 2).
- ``curves``: (key, step, metric, value), primary key (key, step, metric).
- ``claims``: the latest verdict of each claim in each mode (quick / full), with the measured
  effect, its interval and the keys of the runs it was computed from.
- ``running``: (key, pid, host, started): a run being trained, claimed by the sweep process
  ``pid`` on ``host``. A sweep claims a run before training it and skips runs claimed by a live
  process, so sweeps on one store split the work; a claim whose process is dead is taken over.

A run is written in one transaction when it ends, so a sweep killed at any moment leaves only
whole runs. A finished key (done or diverged) made by the running code is never run again; a
failed one is replaced by its rerun, and so is a stale one (made by other code) unless the
sweep keeps stale runs. A store written by a newer schema is refused, never modified; an older
one is migrated when opened for writing. ``Store(path, readonly=True)`` never writes (the
reading commands use it, so they work on a store they may not write).

>>> import tempfile, pathlib
>>> store = Store(pathlib.Path(tempfile.mkdtemp()) / "results.db")
>>> store.finished_keys()
set()
>>> store.close()
"""

from __future__ import annotations

import json
import math
import os
import socket
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from reglab.bench.fingerprint import code_fingerprint
from reglab.bench.runs import RunConfig, Status

SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    key TEXT PRIMARY KEY, task TEXT NOT NULL, recipe TEXT NOT NULL, seed INTEGER NOT NULL,
    config TEXT NOT NULL, versions TEXT NOT NULL, status TEXT NOT NULL, message TEXT NOT NULL,
    metrics TEXT NOT NULL, wall_s REAL, step_ms REAL, finished REAL NOT NULL,
    fingerprint TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS curves (
    key TEXT NOT NULL, step INTEGER NOT NULL, metric TEXT NOT NULL, value REAL,
    PRIMARY KEY (key, step, metric));
CREATE TABLE IF NOT EXISTS claims (
    claim TEXT NOT NULL, mode TEXT NOT NULL, result TEXT NOT NULL, evaluated REAL NOT NULL,
    PRIMARY KEY (claim, mode));
CREATE TABLE IF NOT EXISTS running (
    key TEXT PRIMARY KEY, pid INTEGER NOT NULL, host TEXT NOT NULL, started REAL NOT NULL);
"""

_FINISHED = (Status.DONE, Status.DIVERGED)


class StoreError(ValueError):
    """The store cannot be opened or read: the message names the file and the problem."""


class StoreVersionError(StoreError):
    """The store was written by a newer reglab (a higher schema version)."""


@dataclass(frozen=True)
class RunRow:
    """One stored run: its config, status, final metrics and timings.

    ``stale`` is true when the run was made by code other than the running code (its
    ``fingerprint`` differs from ``fingerprint.code_fingerprint()``)."""

    key: str
    config: RunConfig
    status: Status
    message: str
    metrics: dict[str, float]
    wall_s: float | None
    step_ms: float | None
    versions: dict[str, str]
    fingerprint: str = ""
    stale: bool = False

    def value(self, metric: str) -> float | None:
        """A final metric; ``step_ms`` comes from its column."""
        return self.step_ms if metric == "step_ms" else self.metrics.get(metric)


def _nan_safe(values: dict[str, float]) -> str:
    return json.dumps({k: (None if math.isnan(v) else v) for k, v in values.items()})


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` of this machine exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by another user
    except OverflowError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc: trust kill()
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


class Store:
    """Open (or create) the store at ``path``; use as a context manager or call ``close()``.

    ``fingerprint`` is the code fingerprint written with each run and against which stored runs
    are stale (default: the running code's). ``readonly=True`` opens an existing store without
    ever writing to it."""

    def __init__(
        self, path: str | Path, *, readonly: bool = False, fingerprint: str | None = None
    ) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self.fingerprint = code_fingerprint() if fingerprint is None else fingerprint
        self.owner = (os.getpid(), socket.gethostname())
        self.db = self._connect()
        try:
            with self._errors():
                self._check_version()
                if not readonly:
                    self._create()
                self._columns = {r[1] for r in self.db.execute("PRAGMA table_info(runs)")}
        except BaseException:
            self.db.close()
            raise

    def _connect(self) -> sqlite3.Connection:
        folder = self.path.parent
        if folder.exists() and not folder.is_dir():
            raise StoreError(f"results folder {folder} is a file, not a folder")
        if self.path.is_dir():
            raise StoreError(f"results store {self.path} is a folder, not a SQLite file")
        if self.readonly:
            if not self.path.exists():
                raise FileNotFoundError(f"no results store at {self.path}")
            return self._connect_readonly()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"cannot make the results folder {folder} ({e.strerror})") from None
        try:
            return sqlite3.connect(self.path, timeout=30, isolation_level=None)
        except sqlite3.Error as e:
            raise StoreError(f"cannot open results store {self.path} ({e})") from None

    def _connect_readonly(self) -> sqlite3.Connection:
        """``mode=ro``; in a folder this process may not write, SQLite cannot make the WAL index
        a reader needs, so a store with no WAL file (no writer at work) is read as immutable."""
        uri = self.path.resolve().as_uri()
        for options in ("mode=ro", "mode=ro&immutable=1"):
            db = sqlite3.connect(f"{uri}?{options}", uri=True, timeout=30, isolation_level=None)
            try:
                db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
                return db
            except sqlite3.OperationalError as e:
                db.close()
                wal = self.path.with_name(self.path.name + "-wal")
                if options != "mode=ro" or wal.exists() or os.access(self.path.parent, os.W_OK):
                    raise StoreError(f"cannot read results store {self.path} ({e})") from None
            except sqlite3.DatabaseError:
                db.close()
                raise StoreError(f"results store {self.path} is not a SQLite database") from None
        raise AssertionError("unreachable")

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """SQLite's errors about the file (damaged, locked, unreadable) as a ``StoreError``."""
        try:
            yield
        except (sqlite3.InterfaceError, sqlite3.ProgrammingError, sqlite3.IntegrityError):
            raise  # a bug in the caller, not a problem of the file
        except sqlite3.DatabaseError as e:
            text = str(e)
            if "not a database" in text:
                raise StoreError(
                    f"results store {self.path} is not a SQLite database ({text})"
                ) from None
            if "malformed" in text or "corrupt" in text:
                raise StoreError(
                    f"results store {self.path} is damaged ({text}); move it aside to start "
                    "a new store, or restore it from a copy"
                ) from None
            raise StoreError(f"results store {self.path}: {text}") from None

    def _create(self) -> None:
        """WAL mode, the tables, and the migration of an older schema (in one transaction)."""
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        check = self.db.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise sqlite3.DatabaseError(f"database disk image is malformed: {check}")
        with self._transaction():
            for statement in filter(str.strip, _SCHEMA.split(";")):
                self.db.execute(statement)
            columns = {r[1] for r in self.db.execute("PRAGMA table_info(runs)")}
            if "fingerprint" not in columns:  # schema 1: runs of unknown code, hence stale
                self.db.execute("ALTER TABLE runs ADD COLUMN fingerprint TEXT NOT NULL DEFAULT ''")
            self.db.execute(
                "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )

    def _check_version(self) -> None:
        try:
            row = self.db.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
        except sqlite3.OperationalError as e:  # a new file, or not a reglab store yet
            if "no such table" in str(e) or not self.readonly:
                return
            raise
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

    def _fingerprint_column(self) -> str:
        return "fingerprint" if "fingerprint" in self._columns else "''"

    def finished_keys(self, include_stale: bool = False) -> set[str]:
        """Keys that are not run again: status done or diverged, made by this code (or by any
        code with ``include_stale``)."""
        with self._errors():
            rows = self.db.execute(
                f"SELECT key, {self._fingerprint_column()} FROM runs WHERE status IN (?, ?)",
                _FINISHED,
            ).fetchall()
        return {k for k, fp in rows if include_stale or fp == self.fingerprint}

    def stale_keys(self) -> set[str]:
        """Keys finished (done or diverged) by code other than this store's ``fingerprint``."""
        return self.finished_keys(include_stale=True) - self.finished_keys()

    def write(self, config: RunConfig, result: Any) -> None:
        """Write a finished run and its curves in one transaction (replacing a failed or stale
        attempt) and drop its claim."""
        key = config.key
        with self._errors(), self._transaction():
            self.db.execute("DELETE FROM curves WHERE key = ?", (key,))
            self.db.execute("DELETE FROM running WHERE key = ?", (key,))
            self.db.execute(
                "INSERT OR REPLACE INTO runs (key, task, recipe, seed, config, versions, status, "
                "message, metrics, wall_s, step_ms, finished, fingerprint) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                    self.fingerprint,
                ),
            )
            self.db.executemany(
                "INSERT INTO curves VALUES (?, ?, ?, ?)",
                [
                    (key, s, m, None if isinstance(v, float) and math.isnan(v) else v)
                    for s, m, v in result.curves
                ],
            )

    def claim(self, key: str, include_stale: bool = False) -> bool:
        """Claim ``key`` for this process before training it. False when the run is finished
        (see ``finished_keys``) or claimed by another live process; a claim whose process is
        dead is taken over."""
        with self._errors(), self._transaction():
            row = self.db.execute(
                f"SELECT status, {self._fingerprint_column()} FROM runs WHERE key = ?", (key,)
            ).fetchone()
            if (
                row is not None
                and row[0] in _FINISHED
                and (include_stale or row[1] == self.fingerprint)
            ):
                return False
            held = self.db.execute("SELECT pid, host FROM running WHERE key = ?", (key,)).fetchone()
            if held is not None and self._held_by_other(*held):
                return False
            self.db.execute(
                "INSERT OR REPLACE INTO running VALUES (?, ?, ?, ?)",
                (key, *self.owner, time.time()),
            )
        return True

    def _held_by_other(self, pid: int, host: str) -> bool:
        if (pid, host) == self.owner:
            return False
        return host != self.owner[1] or pid_alive(pid)  # another machine's: assume alive

    def claimed_by_others(self, keys: Iterable[str]) -> dict[str, int]:
        """key -> pid of the keys among ``keys`` claimed by another live process."""
        wanted = set(keys)
        with self._errors():
            rows = self.db.execute("SELECT key, pid, host FROM running").fetchall()
        return {k: pid for k, pid, host in rows if k in wanted and self._held_by_other(pid, host)}

    def release(self) -> None:
        """Drop every claim of this process (runs it did not finish)."""
        with self._errors(), self._transaction():
            self.db.execute("DELETE FROM running WHERE pid = ? AND host = ?", self.owner)

    def runs(self, keys: Iterable[str] | None = None) -> list[RunRow]:
        """All runs, or those with ``keys``, oldest first."""
        query = (
            "SELECT key, config, status, message, metrics, wall_s, step_ms, versions, "
            f"{self._fingerprint_column()} FROM runs ORDER BY finished, key"
        )
        with self._errors():
            rows = self.db.execute(query).fetchall()
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
                fp,
                fp != self.fingerprint,
            )
            for k, c, s, msg, mt, w, sm, vs, fp in rows
            if wanted is None or k in wanted
        ]

    def curves(self, key: str) -> dict[str, list[tuple[int, float]]]:
        """metric -> [(step, value), ...] of one run, by step."""
        out: dict[str, list[tuple[int, float]]] = {}
        with self._errors():
            rows = self.db.execute(
                "SELECT step, metric, value FROM curves WHERE key = ? ORDER BY step", (key,)
            ).fetchall()
        for step, metric, value in rows:
            out.setdefault(metric, []).append((step, float("nan") if value is None else value))
        return out

    def write_claim(self, claim: str, mode: str, result: dict[str, Any]) -> None:
        with self._errors(), self._transaction():
            self.db.execute(
                "INSERT OR REPLACE INTO claims VALUES (?, ?, ?, ?)",
                (claim, mode, json.dumps(result), time.time()),
            )

    def claims(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(claim id, mode, result) of every stored verdict, by mode, in the order evaluated."""
        with self._errors():
            rows = self.db.execute(
                "SELECT claim, mode, result FROM claims ORDER BY mode, evaluated"
            ).fetchall()
        return [(c, m, json.loads(r)) for c, m, r in rows]
