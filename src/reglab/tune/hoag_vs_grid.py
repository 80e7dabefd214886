"""The ``hypergradient-near-grid`` check: HOAG against scikit-learn's LogisticRegressionCV on digits.

Both choose the L2 strength of multinomial logistic regression by the same criterion, the 5-fold
cross-validated log-loss on the standardized digits (same folds): the grid fits 20 strengths ×
5 folds; HOAG runs on the 5 folds stacked (``problems.cross_validated``), one inner solve per
fold per iteration, from scikit-learn's default C = 1. Strengths are compared as
λ = 1 / (C · n_fold) (scikit-learn's C multiplies the summed loss; λ the mean's penalty).
Needs scikit-learn (the ``peers`` or ``bench`` extra).

>>> from reglab.tune.hoag_vs_grid import hoag_vs_grid
>>> r = hoag_vs_grid(max_iter=12)   # doctest: +SKIP
>>> r["decades_apart"] <= 0.5 and r["loss_gap"] <= 0.01 and r["fits_hoag"] < r["fits_grid"]  # doctest: +SKIP
True
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from reglab.tune.hoag import hoag
from reglab.tune.problems import cross_validated, l2_logistic


def hoag_vs_grid(seed: int = 0, folds: int = 5, grid: int = 20, max_iter: int = 12,
                 tolerance: float = 1e-2) -> dict[str, Any]:
    """Strengths, cross-validated losses and inner-fit counts of HOAG and the grid."""
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.model_selection import StratifiedKFold
    from sklearn.preprocessing import StandardScaler

    x, y = load_digits(return_X_y=True)
    x = StandardScaler().fit_transform(x)
    splits = list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y))
    n_fit = float(np.mean([len(train) for train, _ in splits]))

    cs = np.logspace(-4, 4, grid)
    cv = LogisticRegressionCV(Cs=cs, cv=splits, scoring="neg_log_loss", max_iter=5000,
                              tol=1e-8).fit(x, y)
    grid_losses = -np.mean(next(iter(cv.scores_.values())), axis=0)
    c_grid = float(cv.C_[0])
    iterations_grid = int(np.sum(cv.n_iter_))

    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    problem = cross_validated([
        l2_logistic(xt[tr], yt[tr], xt[va], yt[va], log_strength=-math.log(n_fit),
                    num_classes=10) for tr, va in splits
    ])
    result = hoag(problem, max_iter=max_iter, tolerance=tolerance)
    lam_hoag = math.exp(float(result.log_strength[0]))
    lam_grid = 1.0 / (c_grid * n_fit)
    return {
        "strength_hoag": lam_hoag,
        "strength_grid": lam_grid,
        "C_hoag": 1.0 / (lam_hoag * n_fit),
        "C_grid": c_grid,
        "decades_apart": abs(math.log10(lam_hoag / lam_grid)),
        "val_loss_hoag": result.outer,
        "val_loss_grid": float(grid_losses.min()),
        "loss_gap": result.outer / float(grid_losses.min()) - 1.0,
        "fits_hoag": result.inner_solves,
        "fits_grid": folds * grid,
        "iterations_hoag": result.inner_iterations,
        "iterations_grid": iterations_grid,
        "history": result.history,
    }
