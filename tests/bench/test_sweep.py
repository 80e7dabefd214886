import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from bench_helpers import tiny

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
    runs = sorted(db.execute("SELECT key, status, metrics, config FROM runs"))
    curves = sorted(db.execute("SELECT key, step, metric, value FROM curves"))
    db.close()
    return runs, curves


def count(path):
    try:
        db = sqlite3.connect(path, timeout=5)
        try:
            return db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
        finally:
            db.close()
    except sqlite3.OperationalError:
        return 0


def start_then_stop(results, sig, at_least=2):
    """Start the CLI sweep, send ``sig`` once ``at_least`` runs are stored; return its exit code."""
    proc = subprocess.Popen(
        [*CLI, "--results", str(results)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    db = results / "results.db"
    deadline = time.monotonic() + 120
    while count(db) < at_least and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    path = tmp_path_factory.mktemp("full") / "results.db"
    with Store(path) as store:
        run_sweep(configs(), store, LocalBackend(1))
    return snapshot(path)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["sigkill", "ctrl-c"])
def test_a_stopped_sweep_resumes_to_the_same_rows(tmp_path, uninterrupted, sig):
    code, err = start_then_stop(tmp_path, sig)
    partial = count(tmp_path / "results.db")
    assert 2 <= partial < SEEDS, "the sweep was not stopped half way; make the runs longer"
    if sig == signal.SIGINT:
        assert code == 130 and "interrupted" in err
    else:
        assert code == -signal.SIGKILL
    done = subprocess.run(
        [*CLI, "--results", str(tmp_path)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert f"{partial} run(s) were already in" in done.stdout
    assert snapshot(tmp_path / "results.db") == uninterrupted


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
