import math

import pytest
from bench_helpers import tiny

import reglab.bench.report as report

from reglab.bench.report import write_report
from reglab.bench.runs import Settings, Status
from reglab.bench.store import Store
from reglab.bench.train import RunResult


def fake(store, config, acc, status=Status.DONE, message=""):
    curves = [
        (s, m, v)
        for s in (0, 10, 20)
        for m, v in (("test_acc", acc * s / 20), ("train_loss", 2.0 - s / 20))
    ]
    store.write(
        config,
        RunResult(
            status,
            {"test_acc": acc, "train_acc": acc, "train_loss": 1.0},
            curves,
            message,
            1.0,
            2.0,
            {},
        ),
    )


def test_report_from_the_store_only(tmp_path):
    with Store(tmp_path / "r.db") as store:
        a = [tiny("none", s) for s in range(2)]
        b = [tiny("l2", s) for s in range(2)]
        for c, acc in zip(a + b, (0.8, 0.82, 0.9, 0.91)):
            fake(store, c, acc)
        other = tiny("none", 0, settings=[Settings(data={"train_size": 500})])
        fake(store, other, math.nan, Status.FAILED, "RuntimeError: <boom>")
        store.write_claim(
            "toy",
            "quick",
            {
                "id": "toy",
                "paper": "A <Paper>",
                "statement": "l2 helps",
                "verdict": "held",
                "mode": "quick",
                "checks": [
                    {
                        "check": "test_acc: l2 − none above 0",
                        "verdict": "held",
                        "mean": 0.095,
                        "low": 0.05,
                        "high": 0.14,
                        "n": 2,
                    }
                ],
                "notes": ["none seed 3 left out (missing)"],
                "runs": {"l2": [c.key for c in b], "none": [c.key for c in a]},
            },
        )
        index = write_report(store, tmp_path / "report")
    summary = (tmp_path / "report" / "summary.md").read_text()
    page = index.read_text()
    assert (
        "| toy | quick | A <Paper> | 0.095 [0.05, 0.14] (n=2) for test_acc: l2 − none above 0 | held |"
        in summary
    )
    assert "A &lt;Paper&gt;" in page and "A <Paper>" not in page  # escaped in HTML
    assert (
        "train_size=500" in summary
    )  # the other group is titled by what differs from the defaults
    assert "RuntimeError: <boom>" in summary and "none seed 3 left out" in summary
    pngs = sorted(p.name for p in (tmp_path / "report").glob("*.png"))
    assert pngs == ["claim-toy-quick.png", "effects.png", "runs-1.png"]
    for name in pngs:
        assert (tmp_path / "report" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f'src="{name}"' in page


def diverged(store, config):
    """A diverged run: a finite first evaluation, then NaN everywhere."""
    curves = [(0, "test_acc", math.nan), (0, "train_loss", math.nan), (10, "train_loss", math.inf)]
    store.write(
        config,
        RunResult(Status.DIVERGED, {"test_acc": math.nan}, curves, "loss became nan", 1.0, 2.0, {}),
    )


def test_a_group_whose_runs_all_diverged_is_reported(tmp_path):
    with Store(tmp_path / "r.db") as store:
        for s in range(2):
            diverged(store, tiny("none", s))
        index = write_report(store, tmp_path / "report")
    summary = (tmp_path / "report" / "summary.md").read_text()
    assert index.exists() and "loss became nan" in summary and "| none | 0/2 |" in summary


def test_an_interrupted_write_leaves_the_old_report_intact(tmp_path, monkeypatch):
    out = tmp_path / "report"
    with Store(tmp_path / "r.db") as store:
        for c, acc in zip([tiny("none", s) for s in range(2)], (0.8, 0.82)):
            fake(store, c, acc)
        write_report(store, out)
        old = {p.name: p.read_bytes() for p in out.iterdir()}
        (out / "stale.png").write_bytes(b"old")  # a file a previous report left behind

        def boom(*args, **kwargs):
            raise KeyboardInterrupt

        monkeypatch.setattr(report, "curves_png", boom)
        with pytest.raises(KeyboardInterrupt):
            write_report(store, out)
        assert {p.name: p.read_bytes() for p in out.iterdir()} == {**old, "stale.png": b"old"}
        monkeypatch.undo()
        write_report(store, out)  # a complete write replaces the folder whole
    assert sorted(p.name for p in out.iterdir()) == sorted(old)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.db", "report"]  # no temp folders


def test_a_folder_that_is_not_a_report_is_refused(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("keep me")
    with Store(tmp_path / "r.db") as store:
        with pytest.raises(ValueError, match="holds no report"):
            write_report(store, tmp_path / "mine")
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "keep me"


def test_censored_effects_and_bounded_intervals_in_the_tables(tmp_path):
    with Store(tmp_path / "r.db") as store:
        runs = [tiny("none", s) for s in range(2)]
        for c, acc in zip(runs, (0.9, 1.0)):  # two seeds: a t-interval past 1
            fake(store, c, acc)
        check = {
            "check": "steps_to(test_acc >= 0.5): a − b below 0",
            "compare": "difference",
            "verdict": "held",
            "mean": -350.0,
            "low": -350.0,
            "high": -350.0,
            "n": 3,
            "bound": "upper",
            "censored": {"b": [3, 3]},
        }
        result = {"id": "toy", "paper": "P", "statement": "s", "verdict": "held",
                  "mode": "quick", "checks": [check], "notes": [], "runs": {}}
        store.write_claim("toy", "quick", result)
        write_report(store, tmp_path / "report")
    summary = (tmp_path / "report" / "summary.md").read_text()
    assert "≤ -350 (n=3) for steps_to(test_acc >= 0.5): a − b below 0 (3/3 b never reached it)" in summary
    assert "[-350, -350]" not in summary  # never a zero-width interval from censoring
    assert "| steps_to(test_acc >= 0.5): a − b below 0 | -350 | ≤ -350 | 3 | 3/3 b | held |" in summary
    assert "| none | 2/2 | 0.95 [0.3147, 1]* |" in summary  # clipped to [0, 1] and marked
