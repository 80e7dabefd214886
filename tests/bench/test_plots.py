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


def test_curves_of_runs_that_all_diverged(tmp_path):
    nan_runs = [{"test_acc": [(0, math.nan)], "train_loss": [(0, math.nan), (10, math.inf)]}] * 2
    nonpositive = [{"train_loss": [(0, 0.0), (10, -1.0)]}]
    for arms in ({"diverged": nan_runs}, {"diverged": nan_runs, "negative": nonpositive}):
        path = curves_png(tmp_path / "c.png", "t", arms)  # no log scale of non-positive values
        assert path.read_bytes().startswith(PNG)


def test_a_censored_effect_is_drawn(tmp_path):
    check = {"check": "steps_to(test_acc >= 0.5): a − b below 0", "mean": -350.0, "low": -350.0,
             "high": -350.0, "n": 3, "verdict": "held", "bound": "upper", "censored": {"b": [3, 3]}}
    result = {"id": "x", "mode": "quick", "verdict": "held", "checks": [check]}
    assert effects_png(tmp_path / "e.png", [result]).read_bytes().startswith(PNG)
