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
