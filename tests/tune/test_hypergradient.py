"""Implicit hypergradients against closed forms (ridge) and finite differences (logistic)."""

import pytest
import torch

import reglab as rl
from reglab.tune import Solver, hypergradient

D = torch.float64


def ridge_data(n=30, m=20, d=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=D)
    w_true = torch.randn(d, generator=g, dtype=D)
    y = x @ w_true + 0.5 * torch.randn(n, generator=g, dtype=D)
    xv = torch.randn(m, d, generator=g, dtype=D)
    yv = xv @ w_true + 0.5 * torch.randn(m, generator=g, dtype=D)
    return x, y, xv, yv


def ridge_solution(x, y, lam):
    """w*(λ) = (XᵀX/n + diag λ)⁻¹ Xᵀy/n, differentiable in λ (the independent reference)."""
    a = x.T @ x / len(x) + torch.diag(lam.expand(x.shape[1]))
    return torch.linalg.solve(a, x.T @ y / len(x))


def ridge_losses(x, y, xv, yv):
    def inner(p, h):
        return 0.5 * ((x @ p[0] - y) ** 2).mean() + 0.5 * (h[0] * p[0] ** 2).sum()

    def outer(p, h):
        return 0.5 * ((xv @ p[0] - yv) ** 2).mean()

    return inner, outer


def closed_form_hypergradient(x, y, xv, yv, lam):
    lam = lam.detach().clone().requires_grad_(True)
    w = ridge_solution(x, y, lam)
    outer = 0.5 * ((xv @ w - yv) ** 2).mean()
    return torch.autograd.grad(outer, lam)[0]


@pytest.mark.parametrize("solver", [Solver.EXACT, Solver.CG])
@pytest.mark.parametrize("per_feature", [False, True], ids=["scalar", "per-feature"])
def test_ridge_matches_closed_form(solver, per_feature):
    x, y, xv, yv = ridge_data()
    lam = torch.linspace(0.05, 0.6, 6, dtype=D) if per_feature else torch.tensor(0.2, dtype=D)
    w = ridge_solution(x, y, lam)
    inner, outer = ridge_losses(x, y, xv, yv)
    got = hypergradient(inner, outer, [w], [lam], solver=solver)
    want = closed_form_hypergradient(x, y, xv, yv, lam)
    assert got[0].shape == lam.shape  # a 0-dim hyperparameter gets a 0-dim hypergradient
    torch.testing.assert_close(got[0], want, rtol=0, atol=1e-8)


def test_neumann_error_is_its_truncation_error():
    x, y, xv, yv = ridge_data()
    lam = torch.linspace(0.05, 0.6, 6, dtype=D)
    w = ridge_solution(x, y, lam)
    inner, outer = ridge_losses(x, y, xv, yv)
    a = x.T @ x / len(x) + torch.diag(lam)
    b = xv.T @ (xv @ w - yv) / len(xv)  # ∂L_V/∂w
    step = 1.0 / float(torch.linalg.eigvalsh(a).max())
    errors = []
    for terms in (0, 5, 40):
        q = torch.linalg.solve(a, b)
        remainder = torch.linalg.matrix_power(torch.eye(6, dtype=D) - step * a, terms + 1)
        q_truncated = q - remainder @ q  # α Σ_{j<=i} (I − αA)^j b in closed form
        want = -w * q_truncated  # ∂²L_T/∂λ_j∂w = w_j e_j
        got = hypergradient(inner, outer, [w], [lam], solver="neumann", terms=terms, step=step)
        torch.testing.assert_close(got[0], want, rtol=0, atol=1e-10)
        errors.append(float((got[0] - closed_form_hypergradient(x, y, xv, yv, lam)).norm()))
    assert errors[0] > errors[1] > errors[2]


def logistic_problem(seed=0, n=60, d=4):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=D)
    y = (x @ torch.randn(d, generator=g, dtype=D) + torch.randn(n, generator=g, dtype=D) > 0).to(D)
    xv = torch.randn(n, d, generator=g, dtype=D)
    yv = (xv[:, 0] > 0).to(D)

    def inner(p, h):
        logits = x @ p[0] + p[1]
        bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, y)
        return bce + 0.5 * h[0].exp() * (p[0] ** 2).sum()

    def outer(p, h):
        return torch.nn.functional.binary_cross_entropy_with_logits(xv @ p[0] + p[1], yv)

    return inner, outer, d


def newton(inner, params, hparams, steps=20):
    """Solve the inner problem to machine precision by Newton's method on the flat vector."""
    sizes = [p.numel() for p in params]
    z = torch.cat([p.reshape(-1) for p in params]).clone()

    def f(zz):
        return inner(list(torch.split(zz, sizes)), hparams)

    for _ in range(steps):
        g = torch.autograd.functional.jacobian(f, z)
        h = torch.autograd.functional.hessian(f, z)
        z = z - torch.linalg.solve(h, g)
    return [t.reshape(p.shape) for t, p in zip(torch.split(z, sizes), params)]


@pytest.mark.parametrize("solver", [Solver.EXACT, Solver.CG])
def test_logistic_matches_finite_differences(solver):
    inner, outer, d = logistic_problem()
    start = [torch.zeros(d, dtype=D), torch.zeros((), dtype=D)]

    def value(log_lam):
        h = [torch.tensor(log_lam, dtype=D)]
        return float(outer(newton(inner, start, h), h))

    log_lam, eps = -2.0, 1e-4
    h = [torch.tensor(log_lam, dtype=D)]
    got = hypergradient(inner, outer, newton(inner, start, h), h, solver=solver)[0]
    fd = (value(log_lam + eps) - value(log_lam - eps)) / (2 * eps)
    assert abs(float(got) - fd) < 1e-6
    assert abs(fd) > 1e-3  # not a trivially flat point


def test_unused_parameters_and_hyperparameters_get_zeros_not_a_shifted_vector():
    x, y, xv, yv = ridge_data()
    lam = torch.linspace(0.05, 0.6, 6, dtype=D)
    w = ridge_solution(x, y, lam)
    inner, outer = ridge_losses(x, y, xv, yv)
    unused = torch.randn(3, 2, dtype=D)  # before the used one: dropping it would shift w's block
    unused_h = torch.ones(4, dtype=D)

    def inner2(p, h):
        return inner([p[1]], [h[1]])

    def outer2(p, h):
        return outer([p[1]], [h[1]])

    want = closed_form_hypergradient(x, y, xv, yv, lam)
    step = 1.0 / float(torch.linalg.eigvalsh(x.T @ x / len(x) + torch.diag(lam)).max())
    for solver in Solver:
        kw = {"terms": 2000, "step": step} if solver is Solver.NEUMANN else {}
        got = hypergradient(inner2, outer2, [unused, w, torch.zeros(5, dtype=D)],
                            [unused_h, lam], solver=solver, **kw)
        torch.testing.assert_close(got[0], torch.zeros(4, dtype=D), rtol=0, atol=0)
        torch.testing.assert_close(got[1], want, rtol=0, atol=1e-8)


def test_direct_term_and_scalar_hyperparameters_of_mixed_shapes():
    """The outer loss may use λ directly: ∂L_V/∂λ is added (here L_V += c·λ₀, λ₀ a scalar)."""
    x, y, xv, yv = ridge_data()
    lam = torch.tensor(0.3, dtype=D)
    w = ridge_solution(x, y, lam)
    inner, outer = ridge_losses(x, y, xv, yv)
    scale = torch.tensor([2.0], dtype=D)

    def outer2(p, h):
        return outer(p, h[:1]) + 0.7 * h[0] + 0.0 * h[1].sum()

    got = hypergradient(inner, outer2, [w], [lam, scale], solver="exact")
    assert got[0].shape == () and got[1].shape == (1,)
    torch.testing.assert_close(got[0], closed_form_hypergradient(x, y, xv, yv, lam) + 0.7,
                               rtol=0, atol=1e-8)
    torch.testing.assert_close(got[1], torch.zeros(1, dtype=D))


def test_class_equals_function_and_float32_stays_float32():
    x, y, xv, yv = (t.float() for t in ridge_data())
    lam = torch.tensor(0.2)
    w = ridge_solution(x, y, lam)
    inner, outer = ridge_losses(x, y, xv, yv)
    hg = rl.Hypergradient(solver="cg", tolerance=1e-6)
    out = hg(inner, outer, [w], [lam])
    assert out[0].dtype == torch.float32
    torch.testing.assert_close(out[0], hypergradient(inner, outer, [w], [lam], tolerance=1e-6)[0])
    assert "solver=cg" in repr(hg)


@pytest.mark.parametrize("bad, name", [
    ({"solver": "newton"}, "solver"), ({"terms": -1}, "terms"), ({"step": 0.0}, "step"),
    ({"tolerance": 0.0}, "tolerance"), ({"max_iter": 0}, "max_iter"),
])
def test_bad_settings_raise_naming_the_argument(bad, name):
    with pytest.raises((ValueError, TypeError), match=name):
        rl.Hypergradient(**bad)


def test_bad_inputs_raise_naming_the_argument():
    x, y, xv, yv = ridge_data()
    inner, outer = ridge_losses(x, y, xv, yv)
    w, lam = torch.zeros(6, dtype=D), torch.tensor(0.1, dtype=D)
    with pytest.raises(TypeError, match="params"):
        hypergradient(inner, outer, w, [lam])
    with pytest.raises(TypeError, match="hparams"):
        hypergradient(inner, outer, [w], [1.0])
    with pytest.raises(TypeError, match="inner_loss"):
        hypergradient(None, outer, [w], [lam])
    with pytest.raises(ValueError, match="outer_loss"):
        hypergradient(inner, lambda p, h: p[0], [w], [lam])
