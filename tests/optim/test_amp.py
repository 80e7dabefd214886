"""AMP against a brute-force loop of its algorithm on a quadratic, and against SAM for one inner step."""

import pytest
import torch
from torch import nn

import reglab as rl
from reglab import functional as RF
import wrapper_checks as checks
from wrapper_checks import LR, quadratic, step_once


def brute_force_amp(a, b, w0, epsilon, steps, inner_lr):
    grad = lambda w: a @ w - b  # noqa: E731
    delta = torch.zeros_like(w0)
    for _ in range(steps):
        delta = delta + inner_lr * grad(w0 + delta)
        if delta.norm() > epsilon:
            delta = epsilon * delta / delta.norm()
    return w0 - LR * grad(w0 + delta)


@pytest.mark.parametrize("steps, inner_lr", [(1, 0.01), (2, 0.05), (3, 0.2), (5, 1.0)])
def test_steps_match_the_brute_force_algorithm(steps, inner_lr):
    a, b, w0 = quadratic(seed=3)
    expected = brute_force_amp(a, b, w0, 0.3, steps, inner_lr)
    w, _ = step_once(lambda o: rl.AMP(o, epsilon=0.3, inner_steps=steps, inner_lr=inner_lr), a, b, w0)
    torch.testing.assert_close(w, expected, rtol=1e-13, atol=1e-13)


def test_one_inner_step_reaching_the_sphere_equals_sam():
    a, b, w0 = quadratic(seed=4)
    amp, _ = step_once(lambda o: rl.AMP(o, epsilon=0.2, inner_steps=1, inner_lr=100.0), a, b, w0)
    sam, _ = step_once(lambda o: rl.SAM(o, rho=0.2), a, b, w0)
    torch.testing.assert_close(amp, sam, rtol=1e-14, atol=1e-14)


def test_ascent_projects_on_the_ball_of_the_whole_list():
    d = [torch.zeros(2, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)]
    g = [torch.tensor([3.0, 0.0], dtype=torch.float64), torch.tensor([4.0], dtype=torch.float64)]
    out = RF.amp_ascent(d, g, inner_lr=1.0, epsilon=1.0)  # ‖(3, 0, 4)‖ = 5 -> radius 1
    torch.testing.assert_close(torch.cat(out), torch.tensor([0.6, 0.0, 0.8], dtype=torch.float64))
    inside = RF.amp_ascent(d, g, inner_lr=0.1, epsilon=1.0)  # norm 0.5: kept
    torch.testing.assert_close(torch.cat(inside), torch.tensor([0.3, 0.0, 0.4], dtype=torch.float64))


def test_runs_n_plus_one_closures():
    w = nn.Parameter(torch.ones(3))
    calls = []
    opt = rl.AMP(torch.optim.SGD([w], lr=0.1), epsilon=0.1, inner_steps=3)

    def closure():
        calls.append(1)
        opt.zero_grad()
        loss = (w ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    assert len(calls) == 4


def test_bad_arguments_name_the_argument():
    w = [nn.Parameter(torch.ones(2))]
    with pytest.raises(ValueError, match="inner_steps must be >= 1, got 0"):
        rl.AMP(torch.optim.SGD(w, lr=0.1), inner_steps=0)
    with pytest.raises(ValueError, match="inner_lr must be > 0"):
        rl.AMP(torch.optim.SGD(w, lr=0.1), inner_lr=0.0)


def test_wrapper_checks():
    wrap = lambda o: rl.AMP(o, epsilon=0.1, inner_steps=2, inner_lr=0.5)  # noqa: E731
    checks.check_resume_gives_identical_trajectory(wrap)
    checks.check_scheduler_reaches_inner(wrap)
    checks.check_missing_closure_raises(wrap)
    checks.check_runs_under_no_grad(wrap)
