import math

import pytest
import torch
from torch import nn

import reglab as rl
from reglab import functional as RF


def regression(seed=0, n=60, features=10, tasks=3):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, features, generator=g, dtype=torch.float64)
    W = torch.zeros(tasks, features, dtype=torch.float64)
    W[:, :3] = torch.randn(tasks, 3, generator=g, dtype=torch.float64) * 2
    Y = X @ W.T + 0.3 * torch.randn(n, tasks, generator=g, dtype=torch.float64)
    return X, Y


def loss_fn(X, Y, W):
    return 0.5 * ((Y - X @ W.T) ** 2).sum(1).mean()


def test_sgd_inside_is_proximal_gradient_step_for_step():
    X, Y = regression()
    W = nn.Parameter(torch.zeros(3, 10, dtype=torch.float64))
    opt = rl.ProximalGroupLasso(torch.optim.SGD([W], lr=0.05), strength=0.1, groups="columns")
    ref = torch.zeros(3, 10, dtype=torch.float64)
    for _ in range(40):
        opt.zero_grad()
        loss_fn(X, Y, W).backward()
        opt.step()
        grad = -((Y - X @ ref.T).T @ X) / X.shape[0]
        ref = ref - 0.05 * grad
        for j in range(10):  # per-group loop
            col = ref[:, j].clone()
            ref[:, j] = col * max(0.0, 1 - 0.05 * 0.1 * math.sqrt(3) / float(col.norm()))
    torch.testing.assert_close(W.detach(), ref, rtol=1e-12, atol=1e-14)


def fit(X, Y, lam, groups="columns", steps=3000):
    lipschitz = float(torch.linalg.matrix_norm(X, ord=2) ** 2 / X.shape[0])
    W = nn.Parameter(torch.zeros(Y.shape[1], X.shape[1], dtype=torch.float64))
    opt = rl.ProximalGroupLasso(torch.optim.SGD([W], lr=1.0 / lipschitz), strength=lam, groups=groups)

    def closure():
        opt.zero_grad()
        loss = loss_fn(X, Y, W)
        loss.backward()
        return loss

    for _ in range(steps):
        opt.step(closure)
    return W.detach(), opt


@pytest.mark.peers
def test_reaches_scikit_learn_multitask_lasso_solution():
    linear_model = pytest.importorskip("sklearn.linear_model", reason="scikit-learn is not installed")
    X, Y = regression()
    lam = 0.2
    peer = linear_model.MultiTaskLasso(alpha=lam * math.sqrt(3), fit_intercept=False, tol=1e-12, max_iter=100_000)
    expected = torch.tensor(peer.fit(X.numpy(), Y.numpy()).coef_, dtype=torch.float64)
    W, opt = fit(X, Y, lam)
    torch.testing.assert_close(W, expected, rtol=0, atol=1e-5)
    zero_cols = (W == 0).all(0)
    assert torch.equal(zero_cols, (expected == 0).all(0)) and 0 < int(zero_cols.sum()) < 10
    assert opt.sparsity() == {"group0.param0": pytest.approx(float(zero_cols.double().mean()))}


def test_zeros_whole_rows_where_proximal_l1_scatters_them():
    torch.manual_seed(0)
    X = torch.randn(128, 8)
    y = (X[:, 0] > 0).long()

    def train(wrap):
        torch.manual_seed(1)
        model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 2))
        opt = wrap(torch.optim.SGD(model.parameters(), lr=0.1), model)
        for _ in range(200):
            opt.zero_grad()
            nn.functional.cross_entropy(model(X), y).backward()
            opt.step()
        return model[0].weight.detach()

    grouped = train(lambda o, m: rl.ProximalGroupLasso(o, strength=0.02, params=m))
    scattered = train(lambda o, m: rl.ProximalL1(o, strength=0.01, params=m))
    zero_rows = (grouped == 0).all(1)
    assert int(zero_rows.sum()) > 0
    assert torch.equal(grouped == 0, zero_rows[:, None].expand_as(grouped))  # every zero is in a zero row
    assert int((scattered == 0).sum()) > 0 and not torch.equal(
        scattered == 0, (scattered == 0).all(1)[:, None].expand_as(scattered))


def test_schedule_strength_is_evaluated_at_the_wrapper_step():
    w = nn.Parameter(torch.tensor([[3.0, 4.0]]))
    opt = rl.ProximalGroupLasso(torch.optim.SGD([w], lr=1.0), strength=rl.schedules.late(1.0, after=1))
    w.grad = torch.zeros(1, 2)
    opt.step()
    assert torch.equal(w.detach(), torch.tensor([[3.0, 4.0]]))
    opt.step()
    torch.testing.assert_close(w.detach(), torch.tensor([[3.0, 4.0]]) * (1 - math.sqrt(2) / 5))


def test_params_limits_thresholding_and_names_sparsity():
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    opt = rl.ProximalGroupLasso(torch.optim.SGD(model.parameters(), lr=1.0), strength=10.0,
                                params=rl.select(model, lambda n, p: n == "0.weight"))
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    before = model[1].weight.detach().clone()
    opt.step()
    assert torch.equal(model[0].weight, torch.zeros(4, 3))
    assert torch.equal(model[1].weight, before)
    assert opt.sparsity() == {"0.weight": 1.0}


def test_block_threshold_matches_penalty_prox():
    g = torch.Generator().manual_seed(3)
    a = torch.randn(5, 4, generator=g, dtype=torch.float64)
    b = a.clone()
    RF.block_soft_threshold_([a], 0.7)
    rl.GroupLasso([b], strength=1.0).prox_(0.7)
    assert torch.equal(a, b)
