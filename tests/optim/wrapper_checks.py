"""Shared pieces of the optimizer-wrapper tests: a quadratic with closed forms, and the checks
every wrapper passes (resume, LR schedulers, missing closure, a step under no_grad).

Imported by the ``test_<wrapper>.py`` files next to it (pytest puts this folder on sys.path).
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from torch import nn

Wrap = Callable[[torch.optim.Optimizer], torch.optim.Optimizer]

LR = 0.1


def quadratic(seed=0, n=5):
    """A, b, w0 of L(w) = ½ wᵀAw − bᵀw with A positive definite, in float64."""
    g = torch.Generator().manual_seed(seed)
    m = torch.randn(n, n, generator=g, dtype=torch.float64)
    a = m @ m.T + torch.eye(n, dtype=torch.float64)
    b = torch.randn(n, generator=g, dtype=torch.float64)
    w0 = torch.randn(n, generator=g, dtype=torch.float64)
    return a, b, w0


def step_once(wrap, a, b, w0):
    """One wrapped SGD step (lr=LR) on the quadratic from w0; returns (w, loss)."""
    w = nn.Parameter(w0.clone())
    opt = wrap(torch.optim.SGD([w], lr=LR))

    def closure():
        opt.zero_grad()
        loss = 0.5 * w @ a @ w - b @ w
        loss.backward()
        return loss

    loss = opt.step(closure)
    return w.detach(), loss


def toy(wrap: Wrap, dtype: torch.dtype = torch.float64):
    """A seeded MLP, a batch, the wrapped Adam and a closure."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 3)).to(dtype)
    x = torch.randn(32, 5, dtype=dtype)
    y = torch.randint(0, 3, (32,))
    opt = wrap(torch.optim.Adam(model.parameters(), lr=1e-2))

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        return loss

    return model, opt, closure


def check_resume_gives_identical_trajectory(wrap: Wrap, steps: int = 3) -> None:
    model, opt, closure = toy(wrap)
    for _ in range(steps):
        opt.step(closure)
    saved_model = copy.deepcopy(model.state_dict())
    saved_opt = copy.deepcopy(opt.state_dict())
    for _ in range(steps):
        opt.step(closure)

    model2, opt2, closure2 = toy(wrap)
    model2.load_state_dict(saved_model)
    opt2.load_state_dict(saved_opt)
    for _ in range(steps):
        opt2.step(closure2)
    for a, b in zip(model.parameters(), model2.parameters()):
        assert torch.equal(a, b)
    assert opt2.param_groups is opt2.optimizer.param_groups


def check_scheduler_reaches_inner(wrap: Wrap) -> None:
    _, opt, closure = toy(wrap)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    opt.step(closure)
    sched.step()
    assert opt.optimizer.param_groups[0]["lr"] == pytest.approx(5e-3)
    opt.step(closure)
    sched.step()
    assert opt.optimizer.param_groups[0]["lr"] == pytest.approx(2.5e-3)


def check_missing_closure_raises(wrap: Wrap) -> None:
    _, opt, _ = toy(wrap)
    name = type(opt).__name__
    with pytest.raises(ValueError, match=rf"{name}.step needs a closure"):
        opt.step()


def check_runs_under_no_grad(wrap: Wrap) -> None:
    """A step called inside ``torch.no_grad()`` still evaluates gradients in the closure."""
    model, opt, closure = toy(wrap)
    before = [p.detach().clone() for p in model.parameters()]
    with torch.no_grad():
        opt.step(closure)
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
