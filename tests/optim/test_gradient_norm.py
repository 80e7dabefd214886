"""Gradient-norm penalty: double backprop against an explicit Hessian, finite differences against
double backprop with an error that shrinks like ε (and like ε² for their central average)."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

import reglab as rl
from reglab import functional as RF
import wrapper_checks as checks

GAMMA = 0.3
pytestmark = pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")


def problem():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 6), nn.Tanh(), nn.Linear(6, 2)).double()
    x, y = torch.randn(10, 3, dtype=torch.float64), torch.randn(10, 2, dtype=torch.float64)
    return model, x, y


def reference_gradient(model, x, y):
    """g + γ H g with H the explicit Hessian of the loss in the flattened parameters."""
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]
    theta = torch.cat([p.detach().flatten() for p in model.parameters()])

    def loss(flat):
        chunks = flat.split([s.numel() for s in shapes])
        params = {n: c.view(s) for n, c, s in zip(names, chunks, shapes)}
        return F.mse_loss(functional_call(model, params, (x,)), y)

    g = torch.func.grad(loss)(theta)
    h = torch.autograd.functional.hessian(loss, theta)
    return g + GAMMA * h @ g


def applied_gradient(method, epsilon=0.01, create_graph=False):
    """The gradient the inner SGD (lr=1, no momentum) stepped with: θ_before − θ_after."""
    model, x, y = problem()
    before = torch.cat([p.detach().flatten() for p in model.parameters()])
    opt = rl.GradientNormPenalty(torch.optim.SGD(model.parameters(), lr=1.0), strength=GAMMA,
                                 method=method, epsilon=epsilon)

    def closure():
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward(create_graph=create_graph)
        return loss

    opt.step(closure)
    return before - torch.cat([p.detach().flatten() for p in model.parameters()])


def test_double_backprop_equals_gradient_plus_gamma_hessian_gradient():
    model, x, y = problem()
    expected = reference_gradient(model, x, y)
    got = applied_gradient("double-backprop", create_graph=True)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("method", ["fd-ascent", "fd-descent"])
def test_finite_difference_error_shrinks_linearly_with_epsilon(method):
    exact = applied_gradient("double-backprop", create_graph=True)
    errors = [(applied_gradient(method, eps) - exact).norm() / exact.norm() for eps in (1e-2, 1e-3, 1e-4)]
    assert errors[0] > 5 * errors[1] > 25 * errors[2]
    assert errors[2] < 1e-4
    cosine = F.cosine_similarity(applied_gradient(method, 1e-3), exact, dim=0)
    assert cosine > 0.9999


def test_ascent_and_descent_errors_cancel_to_second_order():
    exact = applied_gradient("double-backprop", create_graph=True)
    errs = []
    for eps in (1e-2, 1e-3):
        central = 0.5 * (applied_gradient("fd-ascent", eps) + applied_gradient("fd-descent", eps))
        errs.append((central - exact).norm() / exact.norm())
    assert errs[0] > 50 * errs[1]


def test_pure_function_matches_the_formula():
    g = [torch.tensor([1.0, 2.0], dtype=torch.float64)]
    probe = [torch.tensor([1.5, 1.0], dtype=torch.float64)]
    asc = RF.finite_difference_penalty_gradient(g, probe, strength=0.2, epsilon=0.1)
    torch.testing.assert_close(asc[0], g[0] + 2.0 * (probe[0] - g[0]))
    desc = RF.finite_difference_penalty_gradient(g, probe, 0.2, 0.1, method="fd-descent")
    torch.testing.assert_close(desc[0], g[0] + 2.0 * (g[0] - probe[0]))
    with pytest.raises(ValueError, match="method"):
        RF.finite_difference_penalty_gradient(g, probe, 0.2, 0.1, method="double-backprop")


def test_double_backprop_without_a_kept_graph_raises_clearly():
    with pytest.raises(ValueError, match=r"backward\(create_graph=True\)"):
        applied_gradient("double-backprop", create_graph=False)


def test_capabilities_follow_the_method():
    w = [nn.Parameter(torch.ones(2))]
    fd = rl.GradientNormPenalty(torch.optim.SGD(w, lr=0.1))
    db = rl.GradientNormPenalty(torch.optim.SGD(w, lr=0.1), method=rl.GradientNormMethod.DOUBLE_BACKPROP)
    assert fd.capabilities.needs_closure and not fd.capabilities.needs_create_graph
    assert db.capabilities.needs_create_graph
    assert rl.entry("gradient-norm").capabilities.needs_closure


def test_zero_strength_is_the_plain_step_with_one_closure():
    model, x, y = problem()
    plain_model, _, _ = problem()
    calls = []
    opt = rl.GradientNormPenalty(torch.optim.SGD(model.parameters(), lr=0.5), strength=0.0)
    plain = torch.optim.SGD(plain_model.parameters(), lr=0.5)

    def closure():
        calls.append(1)
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        return loss

    opt.step(closure)
    plain.zero_grad()
    F.mse_loss(plain_model(x), y).backward()
    plain.step()
    assert len(calls) == 1
    for a, b in zip(model.parameters(), plain_model.parameters()):
        assert torch.equal(a, b)


def test_bad_arguments_name_the_argument():
    w = [nn.Parameter(torch.ones(2))]
    with pytest.raises(ValueError, match="epsilon must be > 0"):
        rl.GradientNormPenalty(torch.optim.SGD(w, lr=0.1), epsilon=0.0)
    with pytest.raises(ValueError, match="method must be one of double-backprop, fd-ascent, fd-descent"):
        rl.GradientNormPenalty(torch.optim.SGD(w, lr=0.1), method="fd_ascent_typo")


@pytest.mark.parametrize("method", ["fd-ascent", "fd-descent"])
def test_wrapper_checks(method):
    wrap = lambda o: rl.GradientNormPenalty(o, strength=0.05, method=method)  # noqa: E731
    checks.check_resume_gives_identical_trajectory(wrap)
    checks.check_scheduler_reaches_inner(wrap)
    checks.check_missing_closure_raises(wrap)
    checks.check_runs_under_no_grad(wrap)


def test_double_backprop_detaches_the_kept_graph_even_at_zero_strength():
    model, x, y = problem()
    opt = rl.GradientNormPenalty(torch.optim.SGD(model.parameters(), lr=0.1), strength=0.0,
                                 method="double-backprop")

    def closure():
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward(create_graph=True)
        return loss

    opt.step(closure)
    assert all(not p.grad.requires_grad for p in model.parameters())
