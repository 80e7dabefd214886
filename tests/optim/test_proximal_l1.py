import pytest
import torch
from torch import nn

import reglab as rl
from reglab import functional as RF


def reference_threshold(w, t):
    return torch.sign(w) * torch.clamp(w.abs() - t, min=0)


def test_foreach_soft_threshold_equals_per_tensor_reference_with_exact_zeros():
    g = torch.Generator().manual_seed(0)
    ps = [torch.randn(*s, generator=g, dtype=torch.float64) for s in [(4, 5), (9,), (2, 3, 3)] * 20]
    expected = [reference_threshold(p, 0.4) for p in ps]
    RF.soft_threshold_(ps, 0.4)
    for p, e in zip(ps, expected):
        assert torch.equal(p, e)
    zeros = sum(int((p == 0).sum()) for p in ps)
    assert zeros == sum(int((e == 0).sum()) for e in expected) > 0


def test_sgd_inside_is_ista_step_for_step():
    g = torch.Generator().manual_seed(1)
    X = torch.randn(40, 6, generator=g, dtype=torch.float64)
    y = torch.randn(40, generator=g, dtype=torch.float64)
    w = nn.Parameter(torch.zeros(6, dtype=torch.float64))
    opt = rl.ProximalL1(torch.optim.SGD([w], lr=0.1), strength=0.05)
    ref = torch.zeros(6, dtype=torch.float64)
    for _ in range(30):
        opt.zero_grad()
        (0.5 * ((y - X @ w) ** 2).mean()).backward()
        opt.step()
        grad = -(X.T @ (y - X @ ref)) / 40
        ref = reference_threshold(ref - 0.1 * grad, 0.1 * 0.05)
    torch.testing.assert_close(w.detach(), ref, rtol=1e-12, atol=1e-14)


def lasso_problem():
    g = torch.Generator().manual_seed(0)
    n, d = 60, 12
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    true = torch.zeros(d, dtype=torch.float64)
    true[:4] = torch.tensor([3.0, -2.0, 1.5, 0.7], dtype=torch.float64)
    y = X @ true + 0.3 * torch.randn(n, generator=g, dtype=torch.float64)
    return X, y, 0.15


def fit_proximal(X, y, alpha, steps=500):
    lipschitz = float(torch.linalg.matrix_norm(X, ord=2) ** 2 / X.shape[0])
    w = nn.Parameter(torch.zeros(X.shape[1], dtype=torch.float64))
    opt = rl.ProximalL1(torch.optim.SGD([w], lr=1.0 / lipschitz), strength=alpha)

    def closure():
        opt.zero_grad()
        loss = 0.5 * ((y - X @ w) ** 2).mean()
        loss.backward()
        return loss

    for _ in range(steps):
        opt.step(closure)
    return w.detach(), opt


@pytest.mark.peers
def test_reaches_scikit_learn_lasso_solution():
    linear_model = pytest.importorskip("sklearn.linear_model", reason="scikit-learn is not installed")
    X, y, alpha = lasso_problem()
    lasso = linear_model.Lasso(alpha=alpha, fit_intercept=False, tol=1e-14, max_iter=1_000_000)
    expected = torch.tensor(lasso.fit(X.numpy(), y.numpy()).coef_, dtype=torch.float64)
    w, opt = fit_proximal(X, y, alpha)
    torch.testing.assert_close(w, expected, rtol=0, atol=1e-4)
    assert torch.equal(w == 0, expected == 0) and 0 < int((w == 0).sum()) < w.numel()
    assert opt.sparsity() == pytest.approx(float((expected == 0).double().mean()))


@pytest.mark.peers
@pytest.mark.slow  # skglm compiles with numba on first use (~10 s)
def test_reaches_skglm_lasso_solution():
    skglm = pytest.importorskip("skglm", reason="skglm is not installed")
    X, y, alpha = lasso_problem()
    est = skglm.Lasso(alpha=alpha, fit_intercept=False, tol=1e-12, max_iter=1000)
    expected = torch.tensor(est.fit(X.numpy(), y.numpy()).coef_, dtype=torch.float64)
    w, _ = fit_proximal(X, y, alpha)
    torch.testing.assert_close(w, expected, rtol=0, atol=1e-4)


def test_selection_and_sparsity_report():
    model = nn.Linear(4, 2).double()
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[0.01, -0.02, 1.0, -1.0], [0.5, 0.001, -0.003, 2.0]]))
        model.bias.fill_(0.01)
    opt = rl.ProximalL1(torch.optim.SGD(model.parameters(), lr=1.0), strength=0.1, params=model)
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    assert opt.sparsity() == 0.0
    opt.step()
    assert opt.sparsity() == pytest.approx(4 / 8)
    torch.testing.assert_close(model.bias.detach(), torch.full((2,), 0.01, dtype=torch.float64))
    with pytest.raises(ValueError, match="strength must be >= 0"):
        rl.ProximalL1(torch.optim.SGD(model.parameters(), lr=1.0), strength=-0.1)


def test_runs_inside_a_recipe_with_a_penalty():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    opt = rl.ProximalL1(rl.DecoupledWeightDecay(torch.optim.Adam(model.parameters(), lr=0.05), 0.01),
                        strength=0.5, params=model)
    recipe = rl.Recipe([rl.Spectral(model, strength=1e-3), opt])
    x, y = torch.randn(16, 4), torch.randint(0, 3, (16,))
    for _ in range(20):
        loss = recipe.step(model, x, y)
    assert torch.isfinite(loss) and opt.sparsity() > 0.2
