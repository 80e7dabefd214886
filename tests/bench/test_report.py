import math

from bench_helpers import tiny

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
