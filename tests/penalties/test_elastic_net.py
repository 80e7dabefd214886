import pytest
import torch

import reglab as rl
from reglab import functional as RF


def params(seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(*s, generator=g, dtype=torch.float64, requires_grad=True) for s in [(3, 4), (5,), (2, 2, 3)]]


@pytest.mark.parametrize("ratio", [0.0, 0.25, 0.5, 1.0])
def test_value_equals_per_tensor_loop(ratio):
    ps = params()
    expected = sum(ratio * p.abs().sum() + (1 - ratio) / 2 * (p * p).sum() for p in ps)
    torch.testing.assert_close(RF.elastic_net(ps, ratio), expected, rtol=1e-13, atol=0)


def test_end_points_are_l1_and_l2_and_gradcheck():
    ps = params()
    torch.testing.assert_close(rl.ElasticNet(ps, 0.1, l1_ratio=1.0)(), rl.L1(ps, 0.1)())
    torch.testing.assert_close(rl.ElasticNet(ps, 0.1, l1_ratio=0.0)(), rl.L2(ps, 0.1)())
    assert torch.autograd.gradcheck(lambda a, b: RF.elastic_net([a, b], 0.3), tuple(ps[:2]))


def test_bad_l1_ratio_names_the_argument():
    with pytest.raises(ValueError, match=r"l1_ratio must be in \[0, 1\], got 1.5"):
        rl.ElasticNet([torch.ones(2)], l1_ratio=1.5)
    with pytest.raises(TypeError, match="l1_ratio must be a number"):
        RF.elastic_net([torch.ones(2)], "0.5")


@pytest.mark.peers
def test_sklearn_elastic_net_solution_is_stationary_for_our_penalty():
    """At scikit-learn's ElasticNet solution the gradient of data fit + our penalty vanishes."""
    linear_model = pytest.importorskip("sklearn.linear_model", reason="scikit-learn is not installed")
    g = torch.Generator().manual_seed(0)
    X = torch.randn(80, 10, generator=g, dtype=torch.float64)
    y = X[:, :3] @ torch.tensor([2.0, -1.0, 0.5], dtype=torch.float64) + 0.1 * torch.randn(80, generator=g, dtype=torch.float64)
    alpha, ratio = 0.1, 0.6
    est = linear_model.ElasticNet(alpha=alpha, l1_ratio=ratio, fit_intercept=False, tol=1e-14, max_iter=100_000)
    w = torch.tensor(est.fit(X.numpy(), y.numpy()).coef_, dtype=torch.float64, requires_grad=True)
    active = w.detach() != 0
    assert 0 < int(active.sum()) < 10
    fit = 0.5 * ((y - X @ w) ** 2).mean()
    (fit + rl.ElasticNet([w], strength=alpha, l1_ratio=ratio)()).backward()
    assert float(w.grad[active].abs().max()) < 1e-8
    w.grad = None
    fit = 0.5 * ((y - X @ w) ** 2).mean()
    fit.backward()  # inactive coordinates: |smooth gradient| <= alpha * ratio (subgradient)
    assert float(w.grad[~active].abs().max()) <= alpha * ratio + 1e-8


def test_module_with_strength_folded_in_equals_strength_times_the_loop_value_and_gradient():
    g = torch.Generator().manual_seed(5)
    shapes = [(3, 4), (7,), (2, 3, 5)]
    a = [torch.randn(*s, generator=g, dtype=torch.float64, requires_grad=True) for s in shapes]
    b = [p.detach().clone().requires_grad_() for p in a]
    for _ in range(2):  # the second call accumulates into existing gradients
        fast, slow = rl.ElasticNet(a, strength=0.37, l1_ratio=0.3)(), 0.37 * sum(0.3 * p.abs().sum() + 0.35 * (p * p).sum() for p in b)
        torch.testing.assert_close(fast, slow, rtol=1e-13, atol=0)
        fast.backward()
        slow.backward()
    for x, y in zip(a, b):
        torch.testing.assert_close(x.grad, y.grad, rtol=1e-13, atol=0)
