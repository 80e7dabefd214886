import subprocess
import sys

import pytest

from reglab._cli.main import main


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # rich folds table cells to the terminal width


def test_list_prints_the_registry_table(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "l2" in out and "Decoupled Weight Decay" in out and "methods" in out


def test_list_filters_by_family_and_rejects_unknown(capsys):
    assert main(["list", "--family", "loss"]) == 0
    assert " l2 " not in capsys.readouterr().out
    assert main(["list", "--family", "losss"]) == 2
    assert "did you mean 'loss'" in capsys.readouterr().err


def test_show_prints_the_card(capsys):
    assert main(["show", "l2"]) == 0
    out = capsys.readouterr().out
    assert "paper: Ilya Loshchilov" in out and "Equation" in out and "Traps" in out


def test_show_writes_enum_defaults_as_a_user_would(capsys):
    assert main(["show", "mixout"]) == 0
    out = capsys.readouterr().out
    assert "mask=MixoutMask.NEURON" in out and "<MixoutMask" not in out


def test_unknown_name_exits_2_with_nearest_names():
    done = subprocess.run([sys.executable, "-m", "reglab._cli.main", "show", "l3"],
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert "unknown method 'l3'" in done.stderr and "did you mean 'l2'" in done.stderr


def test_show_keeps_the_card_lines_on_a_narrow_terminal(capsys, monkeypatch):
    import reglab as rl

    monkeypatch.setenv("COLUMNS", "40")
    assert main(["show", "l2"]) == 0
    assert rl.card("l2") in capsys.readouterr().out


def _lines_fit(out: str, width: int = 80) -> bool:
    return all(len(line) <= width for line in out.splitlines())


def test_list_fits_80_columns_with_whole_names(capsys, monkeypatch):
    import reglab as rl

    monkeypatch.setenv("COLUMNS", "80")
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert _lines_fit(out)
    words = {w for line in out.splitlines() for w in line.split()}
    assert set(rl.available()) <= words  # no name broken over two lines


def test_version(capsys):
    import reglab as rl

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"reglab {rl.__version__}"


def test_show_lists_the_claims_that_use_the_method(capsys):
    assert main(["show", "mixup"]) == 0
    out = capsys.readouterr().out
    assert "claims checked by `reglab reproduce`: mixup-digits" in out
    assert "the calibration claim the benchmark checks" not in out  # it does not check one
    assert main(["show", "ece"]) == 0
    assert "claims: none checked by the harness" in capsys.readouterr().out


def _claim_results():
    from reglab.bench.claims import load_claims

    results = []
    for i, c in enumerate(load_claims()):
        check = {"check": c.checks[0].text, "compare": c.checks[0].compare, "mean": 0.0123,
                 "low": -0.0456, "high": 0.0789, "n": 5, "verdict": "inconclusive"}
        if i == 0:
            check |= {"mean": -350.0, "low": -350.0, "high": -350.0, "bound": "upper",
                      "censored": {"adamw": [3, 3]}, "verdict": "held"}
        results.append({"id": c.id, "paper": c.paper, "verdict": check["verdict"],
                        "checks": [check, {**check, "check": "second check"}]})
    return results


def test_claims_table_fits_80_columns_with_whole_ids():
    from io import StringIO

    from rich.console import Console

    from reglab.bench._console import claims_table

    results = _claim_results()
    for width in (80, 160):
        console = Console(file=StringIO(), width=width, color_system=None)
        console.print(claims_table(results, "reglab reproduce", console.width))
        out = console.file.getvalue()
        assert _lines_fit(out, width)
        words = {w.strip("│┃") for line in out.splitlines() for w in line.split()}
        assert {r["id"] for r in results} <= words
        assert "≤ -350 for" in out and "3/3 adamw never" in out  # the count of censored runs
        assert "[-350, -350]" not in out  # censoring never shows as a zero-width interval


def test_progress_prints_lines_when_not_on_a_terminal():
    from io import StringIO
    from types import SimpleNamespace

    from rich.console import Console

    from reglab.bench._console import progress

    console = Console(file=StringIO(), width=80)
    assert not console.is_terminal
    config = SimpleNamespace(recipe="l2", seed=1)
    with progress(console, "reproduce (quick)", every=3600) as (start, advance):
        start(3)
        advance(config, SimpleNamespace(status="done"))  # within `every`: no line
        advance(config, SimpleNamespace(status="diverged"))  # a run that did not finish: a line
        advance(config, SimpleNamespace(status="done"))  # the last: a line
    lines = console.file.getvalue().splitlines()
    assert len(lines) == 3 and "reproduce (quick): 3 run(s) to do" in lines[0]
    assert "2/3 runs, last l2 seed 1 (diverged)" in lines[1] and "3/3 runs" in lines[2]


def test_bench_table_keeps_arm_names_whole_in_80_columns(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    argv = ["bench", "--task", "digits", "--recipes", "gradient-norm-fd", "gradient-norm-exact",
            "--seeds", "2", "--steps", "4", "--eval-every", "2", "--workers", "1",
            "--set", "model.width=16", "--set", "model.depth=1", "--results", str(tmp_path)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert _lines_fit(out)
    words = {w.strip("│┃") for line in out.splitlines() for w in line.split()}
    assert {"gradient-norm-fd", "gradient-norm-exact"} <= words
