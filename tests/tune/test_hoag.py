"""HOAG on problems whose validation curve is known in closed form."""

import math

import pytest
import torch

import reglab as rl
from reglab.tune import problems

D = torch.float64


def data(seed=0, n=40, d=8):
    g = torch.Generator().manual_seed(seed)
    x, xv = torch.randn(n, d, generator=g, dtype=D), torch.randn(n, d, generator=g, dtype=D)
    w = torch.randn(d, generator=g, dtype=D)
    return x, x @ w + 2 * torch.randn(n, generator=g, dtype=D), xv, xv @ w + 2 * torch.randn(
        n, generator=g, dtype=D)


def ridge_validation_loss(x, y, xv, yv, theta):
    """Closed form: intercept and weights of ½ mean (xw + b − y)² + ½ e^θ ‖w‖²."""
    xc, yc = x - x.mean(0), y - y.mean()
    w = torch.linalg.solve(xc.T @ xc / len(x) + math.exp(theta) * torch.eye(x.shape[1], dtype=D),
                           xc.T @ yc / len(x))
    b = y.mean() - x.mean(0) @ w
    return float(0.5 * ((xv @ w + b - yv) ** 2).mean())


def test_hoag_reaches_the_closed_form_validation_optimum_of_ridge():
    x, y, xv, yv = data()
    curve = [ridge_validation_loss(x, y, xv, yv, t / 10) for t in range(-80, 40)]
    result = rl.hoag(problems.ridge(x, y, xv, yv), max_iter=30)
    assert result.inner_solves == 30 and len(result.history) == 30
    theta = float(result.log_strength[0])
    assert result.outer <= min(curve) * 1.005
    assert abs(ridge_validation_loss(x, y, xv, yv, theta) - result.outer) < 1e-3 * result.outer
    assert result.outer < result.history[0][1]


def test_stacked_folds_count_one_fit_per_fold_and_kernel_ridge_descends():
    x, y, xv, yv = data(seed=1)
    folds = [problems.ridge(x[i::3], y[i::3], xv, yv) for i in range(3)]
    result = rl.hoag(problems.cross_validated(folds), max_iter=4)
    assert result.inner_solves == 12
    k, kv = torch.exp(-torch.cdist(x, x) ** 2 / 16), torch.exp(-torch.cdist(xv, x) ** 2 / 16)
    kr = rl.hoag(problems.kernel_ridge(k, y, kv, yv, log_strength=1.0), max_iter=10)
    assert min(v for _, v in kr.history) < kr.history[0][1]
    assert kr.params[0].dtype == D


@pytest.mark.parametrize("bad, name", [
    ({"max_iter": 0}, "max_iter"), ({"tolerance": 1.0}, "tolerance"), ({"decrease": 1.0}, "decrease"),
    ({"max_inner": 0}, "max_inner"), ({"low": 0.0, "high": -1.0}, "high"),
])
def test_bad_settings_raise_naming_the_argument(bad, name):
    with pytest.raises((ValueError, TypeError), match=name):
        rl.HOAG(**bad)
    with pytest.raises(TypeError, match="problem"):
        rl.HOAG()(None)
