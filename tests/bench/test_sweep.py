import json
import os
import signal
import sqlite3
import subprocess
import sys

import pytest
from bench_helpers import STOPPING_CLI, tiny

from reglab.bench.backends import LocalBackend
from reglab.bench.recipes import parse_recipe
from reglab.bench.runs import Settings, resolve
from reglab.bench.store import Store
from reglab.bench.sweep import run_sweep

SEEDS = 8
MODEL = {"arch": "mlp", "width": 16, "depth": 1}
BUDGET = {"steps": 150, "eval_every": 50}
CLI = [
    sys.executable,
    "-m",
    "reglab._cli.main",
    "bench",
    "--task",
    "digits",
    "--recipes",
    "none",
    "--seeds",
    str(SEEDS),
    "--steps",
    "150",
    "--eval-every",
    "50",
    "--workers",
    "1",
    "--set",
    "model.arch=mlp",
    "--set",
    "model.width=16",
    "--set",
    "model.depth=1",
]


def configs():
    return [
        resolve("digits", "none", s, [Settings(model=MODEL, budget=BUDGET)]) for s in range(SEEDS)
    ]


def snapshot(path):
    """Everything but timings: runs (key, status, metrics) and curves, sorted."""
    db = sqlite3.connect(path)
    runs = sorted(
        (k, s, {m: v for m, v in json.loads(mt).items() if not m.endswith("_s")}, c)
        for k, s, mt, c in db.execute("SELECT key, status, metrics, config FROM runs")
    )
    curves = sorted(db.execute("SELECT key, step, metric, value FROM curves"))
    db.close()
    return [(k, s, json.dumps(m, sort_keys=True), c) for k, s, m, c in runs], curves


def count(path):
    db = sqlite3.connect(path, timeout=5)
    try:
        return db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    finally:
        db.close()


def start_then_stop(results, sig, stop_at=2, workers=1):
    """Run the CLI sweep until ``stop_at`` runs are stored, then ``sig``; its code and stderr."""
    argv = [*CLI[3:], "--results", str(results), "--workers", str(workers)]
    # STOPPING_CLI resets SIGINT to Python's handler in the child (a background job ignores it)
    proc = subprocess.run(
        [sys.executable, "-c", STOPPING_CLI, str(stop_at), str(int(sig)), *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=300,
        check=False,
    )
    return proc.returncode, proc.stderr


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    path = tmp_path_factory.mktemp("full") / "results.db"
    with Store(path) as store:
        run_sweep(configs(), store, LocalBackend(1))
    return snapshot(path)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["sigkill", "ctrl-c"])
def test_a_stopped_sweep_resumes_to_the_same_rows(tmp_path, uninterrupted, sig):
    code, err = start_then_stop(tmp_path, sig)
    assert count(tmp_path / "results.db") == 2
    if sig == signal.SIGINT:
        assert code == 130, err
        message = " ".join(err.split())
        assert f"interrupted: 2 of {SEEDS} run(s) are kept in {tmp_path / 'results.db'}" in message
        assert "run the same command again to resume" in message
    else:
        assert code == -signal.SIGKILL
    done = subprocess.run(
        [*CLI, "--results", str(tmp_path)], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "2 run(s) were already in" in done.stdout
    assert snapshot(tmp_path / "results.db") == uninterrupted
    assert count_claims(tmp_path / "results.db") == 0


def count_claims(path):
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT COUNT(*) FROM running").fetchone()[0]
    finally:
        db.close()


def test_two_sweeps_on_one_store_train_each_run_once(tmp_path):
    path = tmp_path / "results.db"
    Store(path).close()
    db = sqlite3.connect(path)  # log every write of a run, whoever makes it
    db.executescript(
        "CREATE TABLE writes (key TEXT);"
        "CREATE TRIGGER log AFTER INSERT ON runs BEGIN INSERT INTO writes VALUES (new.key); END;"
    )
    db.close()
    argv = [*CLI, "--results", str(tmp_path)]
    sweeps = [
        subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in sweeps]
    assert [p.returncode for p in sweeps] == [0, 0], [e for _, e in outs]
    db = sqlite3.connect(path)
    writes = sorted(k for (k,) in db.execute("SELECT key FROM writes"))
    db.close()
    assert writes == sorted(c.key for c in configs())  # each of the SEEDS runs written once
    assert count_claims(path) == 0


def test_a_sweep_waits_for_runs_another_live_sweep_holds_and_takes_over_dead_ones(tmp_path):
    todo = [tiny(seed=s) for s in range(3)]
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    waits = []

    def on_wait(claims):  # the other sweep dies while this one waits for its run
        waits.append(claims)
        other.kill()
        other.wait()

    try:
        with Store(tmp_path / "r.db") as store, Store(tmp_path / "r.db") as theirs:
            theirs.owner = (other.pid, theirs.owner[1])
            assert theirs.claim(todo[1].key)
            summary = run_sweep(todo, store, LocalBackend(1), on_wait=on_wait, poll_s=0.01)
            assert waits == [{todo[1].key: other.pid}]
            assert summary.ran == 3 and store.finished_keys() == {c.key for c in todo}
            assert count_claims(tmp_path / "r.db") == 0
    finally:
        other.kill()
        other.wait()


def test_runs_another_sweep_finishes_meanwhile_are_not_run_again(tmp_path):
    todo = [tiny(seed=s) for s in range(2)]
    with Store(tmp_path / "r.db") as store, Store(tmp_path / "r.db") as theirs:
        theirs.owner = (os.getppid(), theirs.owner[1])  # a live process
        assert theirs.claim(todo[0].key)

        def on_wait(claims):  # the other sweep writes its run while this one waits
            with Store(tmp_path / "r.db") as other:
                other.owner = theirs.owner
                other.write(todo[0], result_of(todo[0]))

        summary = run_sweep(todo, store, LocalBackend(1), on_wait=on_wait, poll_s=0.01)
        assert (summary.ran, summary.by_others) == (1, 1)


def result_of(config):
    from reglab.bench.train import execute

    return execute(config, None)


def test_stale_runs_are_run_again_or_kept_with_reuse_stale(tmp_path):
    todo = [tiny(seed=s) for s in range(2)]
    with Store(tmp_path / "r.db", fingerprint="old code") as store:
        run_sweep(todo, store, LocalBackend(1))
    with Store(tmp_path / "r.db", fingerprint="fixed code") as store:
        kept = run_sweep(todo, store, LocalBackend(1), reuse_stale=True)
        assert (kept.ran, kept.skipped, kept.stale) == (0, 2, 2)
        assert all(r.stale for r in store.runs())
        rerun = run_sweep(todo, store, LocalBackend(1))
        assert (rerun.ran, rerun.skipped, rerun.stale) == (2, 0, 2)
        assert not any(r.stale for r in store.runs()) and store.stale_keys() == set()
        again = run_sweep(todo, store, LocalBackend(1))
        assert (again.ran, again.skipped, again.stale) == (0, 2, 0)


def test_finished_keys_are_skipped_and_failed_ones_rerun(tmp_path, stand_ins):
    boom = parse_recipe({"methods": [{"test-raise-after": {"after": 1}}]}, "boom")
    todo = [tiny(seed=0), tiny(seed=1), tiny(boom)]
    with Store(tmp_path / "r.db") as store:
        first = run_sweep(todo + todo, store, LocalBackend(1))  # duplicates are run once
        assert (first.ran, first.skipped, first.by_status) == (3, 0, {"done": 2, "failed": 1})
        second = run_sweep(todo, store, LocalBackend(1))
        assert (second.ran, second.skipped) == (1, 2)
        assert len(store.runs()) == 3


def test_a_bad_hyperparameter_stops_the_sweep_before_any_run(tmp_path):
    bad = parse_recipe({"methods": [{"l2": {"strength": -1.0}}]}, "bad")
    with Store(tmp_path / "r.db") as store:
        with pytest.raises(
            ValueError, match="recipe 'bad' on task 'digits': strength must be >= 0"
        ):
            run_sweep([tiny(), tiny(bad)], store, LocalBackend(1))
        assert store.runs() == []


def test_the_process_pool_gives_the_rows_of_the_in_process_backend(tmp_path):
    todo = [tiny(seed=s) for s in range(3)]
    rows = {}
    for workers in (1, 2):
        with Store(tmp_path / f"{workers}.db") as store:
            run_sweep(todo, store, LocalBackend(workers))
        rows[workers] = snapshot(tmp_path / f"{workers}.db")
    assert rows[1] == rows[2]


def test_workers_exit_quietly_when_the_sweep_is_killed(tmp_path):
    code, err = start_then_stop(tmp_path, signal.SIGKILL, stop_at=1, workers=2)
    assert code == -signal.SIGKILL and count(tmp_path / "results.db") == 1
    assert err == ""  # read to its end: the workers and the resource tracker are gone, silent
