"""reglab tune: the validation split, the CLI, and a killed search that resumes."""

import signal
import subprocess
import sys

import pytest
import torch
from bench_helpers import STOPPING_CLI

from reglab._cli.main import main
from reglab.bench.store import Store
from reglab.bench.tasks import get_task

TINY = [
    "--set",
    "model.arch=mlp",
    "--set",
    "model.width=8",
    "--set",
    "data.train_size=200",
    "--steps",
    "3",
    "--workers",
    "1",
]


def test_validation_is_carved_from_train_and_never_touches_the_test_set():
    task = get_task("noisy-digits")
    full = task.load(task.options(), seed=3, cache_dir=None)
    val = task.load(task.options({"validation": 0.25}), seed=3, cache_dir=None)
    n = len(full.y_train)
    assert len(val.y_test) == round(0.25 * n) and len(val.y_train) == n - round(0.25 * n)
    rows = {tuple(x.flatten().tolist()): i for i, x in enumerate(full.x_train)}
    test_rows = {tuple(x.flatten().tolist()) for x in full.x_test}
    held = [rows[tuple(x.flatten().tolist())] for x in val.x_test]
    kept = [rows[tuple(x.flatten().tolist())] for x in val.x_train]
    assert not set(held) & set(kept) and len(set(held) | set(kept)) == n
    assert not {tuple(x.flatten().tolist()) for x in val.x_test} & test_rows
    # validation labels are the training labels as trained on (noisy ones included)
    assert torch.equal(val.y_test, full.y_train[held])
    assert torch.equal(val.clean_train, full.clean_train[kept])
    again = task.load(task.options({"validation": 0.25}), seed=3, cache_dir=None)
    assert torch.equal(again.x_test, val.x_test)
    with pytest.raises(ValueError, match="validation must be in"):
        task.options({"validation": 1.0})


def test_tune_cli_runs_prints_the_best_writes_the_plot_and_resumes(tmp_path, capsys):
    argv = [
        "tune",
        "--task",
        "digits",
        "--recipe",
        "l2",
        "--param",
        "methods.0.strength=log:1e-4:1e-2",
        "--trials",
        "2",
        "--results",
        str(tmp_path),
        *TINY,
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "best: methods.0.strength=" in out
    assert (tmp_path / "tune-digits-l2.png").stat().st_size > 0
    with Store(tmp_path / "results.db", readonly=True) as store:
        rows = store.runs()
    assert len(rows) == 2 and all(r.config.data["validation"] == 0.2 for r in rows)
    assert main(argv) == 0  # started again: nothing runs twice
    assert "2 run(s) were already in" in capsys.readouterr().out
    with Store(tmp_path / "results.db", readonly=True) as store:
        assert len(store.runs()) == 2
    bad = [*argv[:6], "methods.3.strength=log:1:2", *argv[7:]]
    assert main(bad) == 2
    assert "has 1" in " ".join(capsys.readouterr().err.split())


def _tune_argv(results, sampler):
    return [
        "tune",
        "--task",
        "digits",
        "--recipe",
        "l2",
        "--param",
        "methods.0.strength=log:1e-4:1e-1",
        "--trials",
        "5",
        "--sampler",
        sampler,
        "--results",
        str(results),
        *TINY,
    ]


def _stored(path):
    with Store(path, readonly=True) as store:
        return sorted((r.key, r.config.methods[0]["args"]["strength"]) for r in store.runs())


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["sigkill", "ctrl-c"])
@pytest.mark.parametrize("sampler", ["grid", "tpe"])
def test_a_killed_tune_resumes_without_repeating_a_trial(tmp_path, sig, sampler):
    """A real process is stopped after its 3rd stored trial (mid-way through TPE's 2nd batch),
    then started again: the 5 trials are those of an uninterrupted search, each run once."""
    if sampler == "tpe":
        pytest.importorskip("optuna", reason="the tpe sampler needs the tune extra (optuna)")
    whole = tmp_path / "whole"
    assert main(_tune_argv(whole, sampler)) == 0
    stopped = tmp_path / "stopped"
    # STOPPING_CLI resets SIGINT to Python's handler in the child (a background job ignores it)
    proc = subprocess.run(
        [sys.executable, "-c", STOPPING_CLI, "3", str(int(sig)), *_tune_argv(stopped, sampler)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == (130 if sig == signal.SIGINT else -signal.SIGKILL), proc.stderr
    assert len(_stored(stopped / "results.db")) == 3
    writes = []
    original = Store.write

    def counting_write(self, config, result):
        writes.append(config.key)
        original(self, config, result)

    Store.write = counting_write
    try:
        assert main(_tune_argv(stopped, sampler)) == 0
    finally:
        Store.write = original
    assert len(writes) == 2 and len(set(writes)) == 2  # only the 2 missing trials ran
    assert _stored(stopped / "results.db") == _stored(whole / "results.db")
