"""Gradient-norm clipping against the paper's rule computed by hand and against torch's clip_grad_norm_."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import reglab as rl
from reglab import functional as RF
import wrapper_checks as checks


def grads_after_step(max_norm, scale):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 2)).double()
    x, y = torch.randn(8, 4, dtype=torch.float64), torch.randint(0, 2, (8,))
    opt = rl.ClipGradNorm(torch.optim.SGD(model.parameters(), lr=1.0), max_norm=max_norm)
    opt.zero_grad()
    (scale * F.cross_entropy(model(x), y)).backward()
    raw = [p.grad.clone() for p in model.parameters()]
    before = [p.detach().clone() for p in model.parameters()]
    opt.step()
    return raw, [b - p.detach() for b, p in zip(before, model.parameters())]


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e3])
def test_applied_gradient_is_the_papers_rule(scale):
    raw, applied = grads_after_step(max_norm=0.5, scale=scale)
    norm = torch.cat([g.flatten() for g in raw]).norm()
    factor = 0.5 / norm if norm > 0.5 else 1.0
    for g, a in zip(raw, applied):
        torch.testing.assert_close(a, factor * g, rtol=1e-14, atol=1e-16)
    total = torch.cat([a.flatten() for a in applied]).norm()
    assert float(total) == pytest.approx(min(0.5, float(norm)), rel=1e-12)


def test_pure_function_agrees_with_torch_and_keeps_zero_gradients():
    g = torch.Generator().manual_seed(0)
    grads = [torch.randn(3, 4, generator=g, dtype=torch.float64) * 10, torch.randn(5, generator=g, dtype=torch.float64)]
    clipped, norm = RF.clip_by_global_norm(grads, 1.0)
    copies = [nn.Parameter(torch.zeros_like(t)) for t in grads]
    for c, t in zip(copies, grads):
        c.grad = t.clone()
    torch_norm = torch.nn.utils.clip_grad_norm_(copies, 1.0)
    torch.testing.assert_close(norm, torch_norm)
    for c, t in zip(copies, clipped):
        torch.testing.assert_close(t, c.grad, rtol=1e-5, atol=0)  # torch divides by norm + 1e-6
    zero, zero_norm = RF.clip_by_global_norm([torch.zeros(3)], 1.0)
    assert float(zero_norm) == 0.0 and torch.equal(zero[0], torch.zeros(3))


def test_bad_arguments_name_the_argument():
    w = [nn.Parameter(torch.ones(2))]
    with pytest.raises(ValueError, match="max_norm must be > 0, got 0"):
        rl.ClipGradNorm(torch.optim.SGD(w, lr=0.1), max_norm=0)


def test_wrapper_checks():
    wrap = lambda o: rl.ClipGradNorm(o, max_norm=0.05)  # noqa: E731
    checks.check_resume_gives_identical_trajectory(wrap)
    checks.check_scheduler_reaches_inner(wrap)
    checks.check_runs_under_no_grad(wrap)
