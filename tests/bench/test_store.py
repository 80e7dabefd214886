import math
import sqlite3

import pytest
from bench_helpers import tiny

from reglab.bench.runs import Status
from reglab.bench.store import SCHEMA_VERSION, Store, StoreVersionError
from reglab.bench.train import RunResult


def result(status=Status.DONE, acc=0.5, curves=((0, "test_acc", 0.1), (10, "test_acc", 0.5))):
    return RunResult(
        status, {"test_acc": acc, "test_ece": math.nan}, list(curves), "", 1.0, 2.0, {"torch": "x"}
    )


def test_wal_mode_schema_version_and_round_trip(tmp_path):
    path = tmp_path / "r.db"
    with Store(path) as store:
        config = tiny()
        store.write(config, result())
        (row,) = store.runs()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("SELECT value FROM meta WHERE name='schema_version'").fetchone()[0] == str(
        SCHEMA_VERSION
    )
    db.close()
    assert row.key == config.key and row.config == config and row.status is Status.DONE
    assert (
        row.metrics["test_acc"] == 0.5
        and math.isnan(row.metrics["test_ece"])
        and row.value("step_ms") == 2.0
    )
    with Store(path) as store:
        assert store.curves(config.key) == {"test_acc": [(0, 0.1), (10, 0.5)]}
        assert store.finished_keys() == {config.key}


def test_a_newer_schema_is_refused_and_the_file_left_unchanged(tmp_path):
    path = tmp_path / "r.db"
    with Store(path) as store:
        store.write(tiny(), result())
    db = sqlite3.connect(path)
    db.execute(
        "UPDATE meta SET value = ? WHERE name = 'schema_version'", (str(SCHEMA_VERSION + 1),)
    )
    db.commit()
    db.close()
    before = path.read_bytes()
    with pytest.raises(
        StoreVersionError, match=f"newer reglab \\(schema version {SCHEMA_VERSION + 1}"
    ):
        Store(path)
    assert path.read_bytes() == before


def test_a_failed_write_leaves_no_partial_run(tmp_path):
    with Store(tmp_path / "r.db") as store:
        bad = result(curves=[(0, "test_acc", 0.1), (1, "test_acc", object())])  # not storable
        with pytest.raises(sqlite3.Error):
            store.write(tiny(), bad)
        assert store.runs() == [] and store.curves(tiny().key) == {}


def test_failed_runs_are_replaced_and_not_counted_finished(tmp_path):
    with Store(tmp_path / "r.db") as store:
        config = tiny()
        store.write(config, result(Status.FAILED))
        assert store.finished_keys() == set()
        store.write(config, result(Status.DONE, acc=0.9))
        (row,) = store.runs()
        assert row.status is Status.DONE and row.metrics["test_acc"] == 0.9
        assert store.curves(config.key)["test_acc"] == [(0, 0.1), (10, 0.5)]  # not duplicated


def test_not_a_database_is_named(tmp_path):
    path = tmp_path / "r.db"
    path.write_bytes(b"hello" * 100)
    with pytest.raises(ValueError, match=f"results store {path} is not a SQLite database"):
        Store(path)
