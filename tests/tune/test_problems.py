"""The bilevel problems: their inner minimizers against closed forms, and the K-fold stack."""

import math

import pytest
import torch

from reglab.tune import problems

D = torch.float64


def _data(seed=0, n=30, d=5):
    g = torch.Generator().manual_seed(seed)
    x, xv = torch.randn(n, d, generator=g, dtype=D), torch.randn(n, d, generator=g, dtype=D)
    w = torch.randn(d, generator=g, dtype=D)
    return x, x @ w + torch.randn(n, generator=g, dtype=D), xv, xv @ w


def _minimize(problem):
    """One Newton step from the start: exact for these inner losses, quadratic in the params."""
    shapes = [p.shape for p in problem.params]
    sizes = [p.numel() for p in problem.params]

    def loss(flat):
        parts = [c.view(s) for c, s in zip(flat.split(sizes), shapes)]
        return problem.inner_loss(parts, problem.hparams)

    start = torch.cat([p.reshape(-1) for p in problem.params])
    grad = torch.autograd.functional.jacobian(loss, start)
    hess = torch.autograd.functional.hessian(loss, start)
    flat = start - torch.linalg.solve(hess, grad)
    return [c.view(s) for c, s in zip(flat.split(sizes), shapes)]


def test_ridge_inner_minimizer_is_the_closed_form_with_an_unpenalized_intercept():
    x, y, xv, yv = _data()
    theta = math.log(0.3)
    w, b = _minimize(problems.ridge(x, y, xv, yv, log_strength=theta))
    xc, yc = x - x.mean(0), y - y.mean()
    exact = torch.linalg.solve(xc.T @ xc / len(x) + 0.3 * torch.eye(x.shape[1], dtype=D),
                               xc.T @ yc / len(x))
    torch.testing.assert_close(w, exact, rtol=1e-9, atol=1e-11)
    torch.testing.assert_close(b, y.mean() - x.mean(0) @ exact, rtol=1e-9, atol=1e-11)


def test_kernel_ridge_inner_minimizer_is_the_dual_closed_form():
    x, y, xv, yv = _data(seed=1)
    k, kv = torch.exp(-torch.cdist(x, x) ** 2 / 8), torch.exp(-torch.cdist(xv, x) ** 2 / 8)
    (a,) = _minimize(problems.kernel_ridge(k, y, kv, yv, log_strength=0.0))
    exact = torch.linalg.solve(k + torch.eye(len(x), dtype=D), y)
    torch.testing.assert_close(a, exact, rtol=1e-9, atol=1e-11)


def test_the_fold_stack_sums_inner_losses_averages_outer_ones_and_counts_fits():
    x, y, xv, yv = _data(seed=2)
    folds = [problems.ridge(x[i::3], y[i::3], xv, yv) for i in range(3)]
    stack = problems.cross_validated(folds)
    assert stack.fits == 3 and len(stack.params) == 6
    g = torch.Generator().manual_seed(0)
    params = [torch.randn(p.shape, generator=g, dtype=D) for p in stack.params]
    inner = sum(f.inner_loss(params[2 * i: 2 * i + 2], f.hparams) for i, f in enumerate(folds))
    outer = sum(f.outer_loss(params[2 * i: 2 * i + 2], f.hparams) for i, f in enumerate(folds)) / 3
    torch.testing.assert_close(stack.inner_loss(params, stack.hparams), inner)
    torch.testing.assert_close(stack.outer_loss(params, stack.hparams), outer)
    with pytest.raises(ValueError, match="at least one"):
        problems.cross_validated([])
