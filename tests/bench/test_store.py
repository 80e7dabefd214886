import json
import math
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from bench_helpers import tiny

from reglab.bench.fingerprint import code_fingerprint
from reglab.bench.runs import Status
from reglab.bench.store import SCHEMA_VERSION, Store, StoreError, StoreVersionError, pid_alive
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


V1_SCHEMA = """
CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (
    key TEXT PRIMARY KEY, task TEXT NOT NULL, recipe TEXT NOT NULL, seed INTEGER NOT NULL,
    config TEXT NOT NULL, versions TEXT NOT NULL, status TEXT NOT NULL, message TEXT NOT NULL,
    metrics TEXT NOT NULL, wall_s REAL, step_ms REAL, finished REAL NOT NULL);
CREATE TABLE curves (
    key TEXT NOT NULL, step INTEGER NOT NULL, metric TEXT NOT NULL, value REAL,
    PRIMARY KEY (key, step, metric));
CREATE TABLE claims (
    claim TEXT NOT NULL, mode TEXT NOT NULL, result TEXT NOT NULL, evaluated REAL NOT NULL,
    PRIMARY KEY (claim, mode));
INSERT INTO meta VALUES ('schema_version', '1');
"""


def v1_store(path, config):
    """A store as reglab 0.1 wrote it (schema 1: no fingerprint), holding one done run."""
    db = sqlite3.connect(path)
    db.executescript(V1_SCHEMA)
    db.execute(
        "INSERT INTO runs VALUES (?, 'digits', 'none', 0, ?, '{}', 'done', '', '{\"test_acc\": 0.5}',"
        " 1.0, 2.0, 0)",
        (config.key, json.dumps(config.to_dict())),
    )
    db.commit()
    db.close()


def test_runs_carry_the_code_fingerprint_and_other_code_makes_them_stale(tmp_path):
    path, config = tmp_path / "r.db", tiny()
    with Store(path, fingerprint="old") as store:
        store.write(config, result())
        assert store.finished_keys() == {config.key} and store.stale_keys() == set()
    with Store(path, fingerprint="new") as store:
        assert store.finished_keys() == set() and store.stale_keys() == {config.key}
        assert store.finished_keys(include_stale=True) == {config.key}
        (row,) = store.runs()
        assert row.fingerprint == "old" and row.stale
    with Store(path) as store:  # the default is the running code's fingerprint
        assert store.fingerprint == code_fingerprint()


def test_a_schema_1_store_is_read_as_stale_and_migrated_when_opened_for_writing(tmp_path):
    path, config = tmp_path / "r.db", tiny()
    v1_store(path, config)
    with Store(path, readonly=True) as store:  # reads without migrating
        (row,) = store.runs()
        assert row.stale and row.fingerprint == "" and store.stale_keys() == {config.key}
    db = sqlite3.connect(path)
    assert db.execute("SELECT value FROM meta").fetchone()[0] == "1"
    db.close()
    with Store(path) as store:
        assert store.stale_keys() == {config.key} and store.finished_keys() == set()
        store.write(config, result(acc=0.7))
        assert store.finished_keys() == {config.key}
    db = sqlite3.connect(path)
    assert db.execute("SELECT value FROM meta").fetchone()[0] == str(SCHEMA_VERSION) == "2"
    db.close()


def test_a_claim_blocks_other_live_processes_and_a_dead_owner_is_taken_over(tmp_path):
    path, config = tmp_path / "r.db", tiny()
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with Store(path) as mine, Store(path) as theirs:
            theirs.owner = (other.pid, theirs.owner[1])  # as if another sweep process opened it
            assert theirs.claim(config.key)
            assert not mine.claim(config.key)
            assert mine.claimed_by_others([config.key, "x"]) == {config.key: other.pid}
            other.kill()
            other.wait()  # dead (and reaped): its claim is taken over
            assert mine.claimed_by_others([config.key]) == {}
            assert mine.claim(config.key) and mine.claim(config.key)  # claiming again is fine
            assert not theirs.claim(config.key) or not pid_alive(other.pid)
            mine.write(config, result())  # writing drops the claim; a finished run is not claimed
            assert not mine.claim(config.key)
            assert mine.db.execute("SELECT COUNT(*) FROM running").fetchone()[0] == 0
            mine.release()
    finally:
        other.kill()
        other.wait()


def test_release_drops_only_this_process_claims(tmp_path):
    with Store(tmp_path / "r.db") as mine, Store(tmp_path / "r.db") as theirs:
        theirs.owner = (os.getppid(), theirs.owner[1])  # alive: the process that started pytest
        assert mine.claim("a") and theirs.claim("b")
        mine.release()
        assert mine.db.execute("SELECT key FROM running").fetchall() == [("b",)]


def test_readonly_never_writes(tmp_path):
    path = tmp_path / "r.db"
    with Store(path) as store:
        store.write(tiny(), result())
    before = path.read_bytes()
    with Store(path, readonly=True) as store:
        assert len(store.runs()) == 1 and store.claims() == []
        with pytest.raises(StoreError, match="readonly"):
            store.write(tiny(seed=1), result())
    assert path.read_bytes() == before
    with pytest.raises(FileNotFoundError, match="no results store at"):
        Store(tmp_path / "none.db", readonly=True)
    assert not (tmp_path / "none.db").exists()


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs root and setpriv to read as another user (root ignores permissions)",
)
def test_readonly_reads_a_store_in_a_folder_it_may_not_write():
    top = Path(tempfile.mkdtemp())  # pytest's tmp_path is private to root
    folder = top / "shared"
    try:
        folder.mkdir()
        with Store(folder / "results.db") as store:
            store.write(tiny(), result())
        top.chmod(0o755)
        folder.chmod(0o555)
        (folder / "results.db").chmod(0o444)
        code = (
            "import sys; from reglab.bench.store import Store; "
            "s = Store(sys.argv[1], readonly=True); print(len(s.runs()))"
        )
        user = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        done = subprocess.run(
            [*user, sys.executable, "-c", code, str(folder / "results.db")],
            capture_output=True,
            text=True,
            check=False,
        )
        if "results.db" not in done.stderr and done.returncode != 0:
            pytest.skip(f"the other user cannot run this Python: {done.stderr[-200:]}")
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "1" and sorted(os.listdir(folder)) == ["results.db"]
    finally:
        folder.chmod(0o755)
        shutil.rmtree(top)


def test_unusable_paths_and_a_damaged_store_are_named(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="results folder .*file is a file, not a folder"):
        Store(tmp_path / "file" / "results.db")
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(StoreError, match="dir.db is a folder, not a SQLite file"):
        Store(tmp_path / "dir.db")
    path = tmp_path / "r.db"
    with Store(path) as store:
        for seed in range(30):
            store.write(tiny(seed=seed), result(curves=[(s, "test_acc", 0.5) for s in range(50)]))
    data = bytearray(path.read_bytes())
    page = 4096
    data[2 * page :] = b"\xff" * (len(data) - 2 * page)  # every page after the first two
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="r.db is damaged \\(.*malformed"):
        Store(path)
    with pytest.raises(StoreError, match="r.db is damaged"):
        with Store(path, readonly=True) as store:
            store.runs()
            [store.curves(r.key) for r in store.runs()]
