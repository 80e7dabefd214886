"""HOAG against scikit-learn's LogisticRegressionCV on digits (slow; the peers extra)."""

import pytest


@pytest.mark.slow
@pytest.mark.peers
def test_hoag_lands_near_the_grid_on_digits_with_fewer_fits():
    pytest.importorskip("sklearn", reason="scikit-learn is not installed (the 'peers' extra)")
    from reglab.tune.hoag_vs_grid import hoag_vs_grid

    r = hoag_vs_grid(max_iter=12)
    assert r["decades_apart"] <= 0.5
    assert r["loss_gap"] <= 0.01
    assert r["fits_hoag"] < r["fits_grid"]
