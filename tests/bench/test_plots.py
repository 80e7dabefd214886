"""Plots are written as PNG files from curves and claim results."""

import math

from reglab.bench.plots import _threshold, curves_png, effects_png

PNG = b"\x89PNG\r\n\x1a\n"


def test_curves_and_effects_write_png(tmp_path):
    seed_runs = [{"test_acc": [(0, 0.1), (10, 0.5 + s / 10)], "train_loss": [(0, 2.0), (10, math.nan)]}
                 for s in range(2)]
    path = curves_png(tmp_path / "c.png", "title", {"arm": seed_runs, "empty": []})
    assert path.read_bytes().startswith(PNG)
    result = {"id": "x", "mode": "quick", "verdict": "held",
              "checks": [{"check": "test_acc: a − b above 0", "mean": 0.1, "low": 0.05, "high": 0.15,
                          "n": 3, "verdict": "held"}]}
    assert effects_png(tmp_path / "e.png", [result]).read_bytes().startswith(PNG)


def test_threshold_is_read_from_the_check_text():
    assert _threshold("test_acc: a − b above 0.5") == 0.5
    assert _threshold("step_ms: a / b below 1") == 1.0
    assert _threshold("x within 0.01") == 0.01
    assert _threshold("no relation") is None
