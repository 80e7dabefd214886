import subprocess
import sys

import numpy as np
import yaml

from reglab._cli.main import main

TINY = [
    "--set",
    "model.arch=mlp",
    "--set",
    "model.width=16",
    "--set",
    "model.depth=1",
    "--steps",
    "20",
    "--eval-every",
    "10",
    "--workers",
    "1",
]


def test_bench_list_shows_tasks_and_recipes(capsys):
    assert main(["bench", "--list"]) == 0
    out = capsys.readouterr().out
    assert "modular-addition" in out and "noisy-mnist1d" in out and "l2" in out


def test_bench_runs_a_sweep_on_a_users_file_and_prints_the_table(tmp_path, capsys):
    data = tmp_path / "mine.npz"
    rng = np.random.default_rng(0)
    np.savez(data, x=rng.normal(size=(60, 5)), y=rng.integers(0, 3, 60))
    argv = [
        "bench",
        "--task",
        "digits",
        "--recipes",
        "none",
        "l2",
        "--seeds",
        "2",
        "--data",
        str(data),
        "--results",
        str(tmp_path / "res"),
        *TINY,
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "digits: final metrics" in out and "2/2" in out
    assert main(argv) == 0
    assert "4 run(s) were already in" in capsys.readouterr().out


def test_user_errors_exit_2_naming_the_problem(tmp_path, capsys):
    cases = [
        (["bench", "--task", "digts"], "unknown task 'digts' (did you mean 'digits'"),
        (
            ["bench", "--task", "digits", "--recipes", "l3"],
            "unknown recipe 'l3' (did you mean 'l2'",
        ),
        (
            ["bench", "--task", "digits", "--set", "optimizer.lrr=1"],
            "unknown key 'lrr' (did you mean 'lr'",
        ),
        (["bench", "--task", "digits", "--set", "lr=1"], "write SECTION.KEY=VALUE"),
        (
            ["bench", "--task", "digits", "--data", str(tmp_path / "no.npz")],
            f"data file {tmp_path / 'no.npz'} does not exist",
        ),
        (["bench"], "--task is required"),
        (
            ["bench", "--task", "digits", "--batch-size", "half"],
            "--batch-size must be a positive integer or 'full'",
        ),
        (["reproduce", "stablemax-grok"], "unknown claim 'stablemax-grok'"),
        (["report", "--results", str(tmp_path / "none")], "no results store at"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        assert message in " ".join(capsys.readouterr().err.split()), argv


def test_a_bad_data_file_is_named(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    np.savez(bad, x=np.zeros((4, 2)))
    assert (
        main(["bench", "--task", "digits", "--data", str(bad), "--results", str(tmp_path), *TINY])
        == 2
    )
    assert f"data file {bad}: missing array 'y'" in " ".join(capsys.readouterr().err.split())


def test_reproduce_then_report(tmp_path, capsys):
    claim = {
        "id": "toy",
        "paper": "A Paper",
        "statement": "the model learns digits",
        "task": "digits",
        "model": {"arch": "mlp", "width": 16, "depth": 1},
        "budget": {"steps": 30, "eval_every": 10},
        "seeds": 3,
        "arms": {"plain": "none", "l2": "l2"},
        "notes": "a test",
        "checks": [
            {"measure": "test_acc", "arm": "plain", "above": 0.1},
            {"measure": "test_acc", "difference": ["l2", "plain"], "within": 0.5},
        ],
        "quick": {"budget": {"steps": 20}},
    }
    path = tmp_path / "claims.yaml"
    path.write_text(yaml.safe_dump({"claims": [claim]}))
    results = str(tmp_path / "res")
    assert main(["reproduce", "--claims-file", str(path), "--list"]) == 0
    assert "the model learns digits" in capsys.readouterr().out
    assert (
        main(
            [
                "reproduce",
                "--quick",
                "--claims-file",
                str(path),
                "--results",
                results,
                "--workers",
                "1",
            ]
        )
        == 0
    )
    out = " ".join(capsys.readouterr().out.split())
    assert "reglab reproduce --quick" in out and "held" in out and "1 held, 0 not held" in out
    assert main(["report", "--results", results, "--out", str(tmp_path / "report")]) == 0
    summary = (tmp_path / "report" / "summary.md").read_text()
    assert "| toy | quick | A Paper |" in summary


def test_the_bench_commands_do_not_import_heavy_dependencies():
    code = (
        "import sys; from reglab._cli.main import build_parser; build_parser(); "
        "print(sorted(m for m in ('sklearn', 'mnist1d', 'matplotlib', 'ray') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_a_sweep_whose_every_run_failed_exits_non_zero(tmp_path, capsys, stand_ins):
    recipe = tmp_path / "boom.yaml"
    recipe.write_text(yaml.safe_dump({"methods": [{"test-raise-after": {"after": 1}}]}))
    argv = ["bench", "--task", "digits", "--seeds", "2", "--results", str(tmp_path / "r"), *TINY]
    assert main([*argv, "--recipes", str(recipe)]) == 1
    captured = capsys.readouterr()
    assert "stand-in failure" in captured.out and "every run failed (2 runs" in captured.err
    assert main([*argv, "--recipes", str(recipe), "none"]) == 0  # some runs worked


def test_unusable_results_folders_and_stores_exit_2_with_one_line(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    (tmp_path / "dir" / "results.db").mkdir(parents=True)
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    from reglab.bench.store import Store

    with Store(damaged / "results.db"):
        pass
    data = bytearray((damaged / "results.db").read_bytes())
    data[4096:] = b"\xff" * (len(data) - 4096)
    (damaged / "results.db").write_bytes(bytes(data))
    bench = ["bench", "--task", "digits", *TINY]
    cases = [
        ([*bench, "--results", str(tmp_path / "afile")], "afile is a file, not a folder"),
        ([*bench, "--results", str(tmp_path / "dir")], "results.db is a folder, not a SQLite file"),
        (["report", "--results", str(tmp_path / "dir")], "results.db is a folder"),
        ([*bench, "--results", str(damaged)], "results.db is damaged (database disk image is"),
        (
            ["report", "--results", str(damaged), "--out", str(tmp_path / "rep")],
            "results.db is damaged",
        ),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in " ".join(err.split()) and "Traceback" not in err, (argv, err)


def test_stale_runs_are_counted_and_run_again_or_kept_and_marked(tmp_path, capsys, monkeypatch):
    argv = ["bench", "--task", "digits", "--seeds", "2", "--results", str(tmp_path), *TINY]
    monkeypatch.setenv("COLUMNS", "200")  # table cells on one line
    monkeypatch.setattr("reglab.bench.store.code_fingerprint", lambda: "code before the fix")
    assert main(argv) == 0
    capsys.readouterr()
    monkeypatch.setattr("reglab.bench.store.code_fingerprint", lambda: "fixed code")
    assert main([*argv, "--reuse-stale"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "2 run(s) in the store were made by other reglab code (stale) and were kept" in out
    assert "2/2 (2 stale)" in out
    assert main(["report", "--results", str(tmp_path), "--out", str(tmp_path / "rep")]) == 0
    assert "2/2 (2 stale)" in (tmp_path / "rep" / "summary.md").read_text()
    capsys.readouterr()
    assert main(argv) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "2 run(s) in the store were made by other reglab code (stale) and were run again" in out
    assert "2/2 " in out and "(2 stale)" not in out


def test_a_reproduce_whose_every_run_failed_exits_non_zero(tmp_path, capsys, stand_ins):
    recipe = tmp_path / "boom.yaml"
    recipe.write_text(yaml.safe_dump({"methods": [{"test-raise-after": {"after": 1}}]}))
    claim = {
        "id": "boom", "paper": "A Paper", "statement": "never trains", "task": "digits",
        "model": {"arch": "mlp", "width": 16, "depth": 1},
        "budget": {"steps": 20, "eval_every": 10}, "seeds": 2, "arms": {"boom": str(recipe)},
        "notes": "a test", "checks": [{"measure": "test_acc", "arm": "boom", "above": 0.1}],
    }
    path = tmp_path / "claims.yaml"
    path.write_text(yaml.safe_dump({"claims": [claim]}))
    argv = ["reproduce", "--claims-file", str(path), "--results", str(tmp_path / "r"), "--workers", "1"]
    assert main(argv) == 1
    assert "every run failed (2 runs" in capsys.readouterr().err
