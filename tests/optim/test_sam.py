"""SAM / ASAM against the closed-form step on a quadratic, and ASAM with unit scaling against SAM."""

import pytest
import torch
from torch import nn

import reglab as rl
from reglab import functional as RF
import wrapper_checks as checks
from wrapper_checks import LR, quadratic, step_once

def test_one_sam_step_on_a_quadratic_is_the_closed_form():
    a, b, w0 = quadratic()
    rho = 0.3
    g = a @ w0 - b
    e = rho * g / g.norm()
    expected = w0 - LR * (a @ (w0 + e) - b)
    w, loss = step_once(lambda o: rl.SAM(o, rho=rho), a, b, w0)
    torch.testing.assert_close(w, expected, rtol=1e-14, atol=1e-14)
    assert float(loss.detach()) == pytest.approx(float(0.5 * w0 @ a @ w0 - b @ w0))  # loss at w, not w + e


def test_one_asam_step_on_a_quadratic_is_the_closed_form():
    a, b, w0 = quadratic(seed=1)
    rho, eta = 0.5, 0.01
    g = a @ w0 - b
    t = w0.abs() + eta
    e = rho * t * t * g / (t * g).norm()
    expected = w0 - LR * (a @ (w0 + e) - b)
    w, _ = step_once(lambda o: rl.SAM(o, rho=rho, adaptive=True, eta=eta), a, b, w0)
    torch.testing.assert_close(w, expected, rtol=1e-14, atol=1e-14)


def test_asam_with_unit_scaling_equals_sam():
    a, b, _ = quadratic(seed=2)
    eta = 0.25
    signs = torch.tensor([1.0, -1.0, 1.0, 1.0, -1.0], dtype=torch.float64)
    w0 = signs * (1.0 - eta)  # |w| + η = 1 everywhere: T_w = I
    sam, _ = step_once(lambda o: rl.SAM(o, rho=0.2), a, b, w0)
    asam, _ = step_once(lambda o: rl.SAM(o, rho=0.2, adaptive=True, eta=eta), a, b, w0)
    torch.testing.assert_close(asam, sam, rtol=1e-15, atol=1e-15)


def test_perturbation_norm_spans_all_groups_and_rho_is_per_group():
    torch.manual_seed(0)
    p1, p2 = torch.randn(3, dtype=torch.float64), torch.randn(4, dtype=torch.float64)
    g1, g2 = torch.randn(3, dtype=torch.float64), torch.randn(4, dtype=torch.float64)
    e = RF.sam_perturbation([p1, p2], [g1, g2], rho=0.1)
    norm = torch.cat([g1, g2]).norm()
    torch.testing.assert_close(e[0], 0.1 * g1 / norm)
    torch.testing.assert_close(torch.cat(e).norm(), torch.tensor(0.1, dtype=torch.float64))

    w1, w2 = nn.Parameter(p1.clone()), nn.Parameter(p2.clone())
    inner = torch.optim.SGD([{"params": [w1], "rho": 0.0}, {"params": [w2]}], lr=LR)
    opt = rl.SAM(inner, rho=0.1)
    assert [grp["rho"] for grp in opt.param_groups] == [0.0, 0.1]
    seen = []

    def closure():
        opt.zero_grad()
        seen.append((w1.detach().clone(), w2.detach().clone()))
        loss = (w1 * g1).sum() + (w2 * g2).sum()  # gradient (g1, g2) everywhere
        loss.backward()
        return loss

    opt.step(closure)
    probe1, probe2 = seen[1]
    torch.testing.assert_close(probe1, p1)  # rho = 0 in this group: not moved
    torch.testing.assert_close(probe2, p2 + 0.1 * g2 / norm)  # norm over both groups


def test_zero_rho_runs_the_closure_once_and_zero_gradient_gives_no_nan():
    w = nn.Parameter(torch.ones(3))
    calls = []
    opt = rl.SAM(torch.optim.SGD([w], lr=0.1), rho=0.0)

    def closure():
        calls.append(1)
        opt.zero_grad()
        loss = (w * 0.0).sum()
        loss.backward()
        return loss

    opt.step(closure)
    assert len(calls) == 1
    opt2 = rl.SAM(torch.optim.SGD([w], lr=0.1), rho=0.5)
    opt2.step(closure)
    assert torch.isfinite(w).all() and torch.equal(w.detach(), torch.ones(3))


def test_bad_arguments_name_the_argument():
    w = [nn.Parameter(torch.ones(2))]
    with pytest.raises(ValueError, match="rho must be >= 0, got -1"):
        rl.SAM(torch.optim.SGD(w, lr=0.1), rho=-1)
    with pytest.raises(TypeError, match="adaptive must be a bool"):
        rl.SAM(torch.optim.SGD(w, lr=0.1), adaptive=1)
    with pytest.raises(ValueError, match="rho must be >= 0"):
        rl.SAM(torch.optim.SGD([{"params": w, "rho": -0.5}], lr=0.1))


@pytest.mark.parametrize("adaptive", [False, True])
def test_wrapper_checks(adaptive):
    wrap = lambda o: rl.SAM(o, rho=0.05, adaptive=adaptive)  # noqa: E731
    checks.check_resume_gives_identical_trajectory(wrap)
    checks.check_scheduler_reaches_inner(wrap)
    checks.check_missing_closure_raises(wrap)
    checks.check_runs_under_no_grad(wrap)


def test_recipe_steps_through_the_closure():
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    calls = []
    forward = model.forward
    model.forward = lambda x: (calls.append(1), forward(x))[1]
    recipe = rl.Recipe([rl.SAM(torch.optim.SGD(model.parameters(), lr=0.1), rho=0.05)])
    loss = recipe.step(model, torch.randn(6, 4), torch.randint(0, 3, (6,)))
    assert len(calls) == 2 and torch.isfinite(loss)
