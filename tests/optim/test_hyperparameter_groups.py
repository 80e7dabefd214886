"""Wrapper hyperparameters live in ``param_groups`` and accept schedules.

A schedule is evaluated at the wrapper's step counter, which ``state_dict()`` keeps: a run with a
schedule equals a run whose float is set by hand in the group before each step, and resuming
from a checkpoint equals running through.
"""

import copy

import pytest
import torch
from torch import nn
from wrapper_checks import check_resume_gives_identical_trajectory, toy

import reglab as rl
from reglab import schedules

S = schedules.linear(0.2, 0.02, steps=3)
CASES = {  # name: (build with a value for key, key)
    "sam-rho": (lambda o, v: rl.SAM(o, rho=v), "rho"),
    "asam-eta": (lambda o, v: rl.SAM(o, rho=0.5, adaptive=True, eta=v), "eta"),
    "amp-epsilon": (lambda o, v: rl.AMP(o, epsilon=v, inner_steps=2), "epsilon"),
    "amp-inner-lr": (lambda o, v: rl.AMP(o, epsilon=0.05, inner_steps=2, inner_lr=v), "inner_lr"),
    "gradient-norm-strength": (lambda o, v: rl.GradientNormPenalty(o, strength=v), "strength"),
    "gradient-norm-epsilon": (lambda o, v: rl.GradientNormPenalty(o, strength=0.1, epsilon=v), "epsilon"),
    "clip-max-norm": (lambda o, v: rl.ClipGradNorm(o, max_norm=v), "max_norm"),
    "decoupled-weight-decay": (lambda o, v: rl.DecoupledWeightDecay(o, weight_decay=v),
                               "reglab_weight_decay"),
    "proximal-l1": (lambda o, v: rl.ProximalL1(o, strength=v), "reglab_l1_strength"),
}


@pytest.mark.parametrize("case", CASES)
def test_schedule_equals_the_float_set_by_hand_each_step(case):
    build, key = CASES[case]
    model, opt, closure = toy(lambda o: build(o, S))
    model2, opt2, closure2 = toy(lambda o: build(o, S(0)))
    assert all(g[key] is S for g in opt.param_groups)
    for t in range(5):
        for g in opt2.param_groups:
            g[key] = S(t)
        opt.step(closure)
        opt2.step(closure2)
    for p, q in zip(model.parameters(), model2.parameters()):
        assert torch.equal(p, q)
    # and the schedule did change the trajectory
    model3, opt3, closure3 = toy(lambda o: build(o, S(0)))
    for _ in range(5):
        opt3.step(closure3)
    assert any(not torch.equal(p, q) for p, q in zip(model.parameters(), model3.parameters()))


@pytest.mark.parametrize("case", CASES)
def test_resume_with_a_schedule_equals_running_through(case):
    build, _ = CASES[case]
    check_resume_gives_identical_trajectory(lambda o: build(o, schedules.linear(0.2, 0.02, steps=5)))


def test_step_counter_is_in_state_dict_and_old_checkpoints_load():
    _, opt, closure = toy(lambda o: rl.ClipGradNorm(o, max_norm=S))
    opt.step(closure)
    opt.step(closure)
    state = copy.deepcopy(opt.state_dict())
    assert state["step"] == 2
    _, opt2, _ = toy(lambda o: rl.ClipGradNorm(o, max_norm=S))
    opt2.load_state_dict(state)
    assert opt2.state_dict()["step"] == 2
    del state["step"]  # a checkpoint written before the counter existed
    opt2.load_state_dict(state)
    assert opt2.state_dict()["step"] == 0


@pytest.mark.parametrize("build, message", [
    (lambda o: rl.SAM(o, rho=schedules.linear(0.1, -0.1, 4)), "rho must be >= 0 at every step"),
    (lambda o: rl.ClipGradNorm(o, max_norm=schedules.linear(1.0, 0.0, 4)), "max_norm must be > 0 at every step"),
    (lambda o: rl.AMP(o, inner_lr=schedules.late(1.0, 3)), "inner_lr must be > 0 at every step"),
    (lambda o: rl.GradientNormPenalty(o, epsilon=schedules.early(0.1, 3)), "epsilon must be > 0 at every step"),
    (lambda o: rl.DecoupledWeightDecay(o, weight_decay=schedules.constant(-1.0)), "weight_decay must be >= 0"),
    (lambda o: rl.ProximalL1(o, strength=schedules.constant(-1.0)), "strength must be >= 0"),
    (lambda o: rl.AMP(o, epsilon="big"), "epsilon must be a number"),
])
def test_schedules_are_checked_over_their_range(build, message):
    w = nn.Parameter(torch.zeros(2))
    with pytest.raises((ValueError, TypeError), match=message):
        build(torch.optim.SGD([w], lr=0.1))


def two_groups(wrap):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2)).double()
    x, y = torch.randn(16, 4, dtype=torch.float64), torch.randn(16, 2, dtype=torch.float64)
    inner = torch.optim.SGD([{"params": model[0].parameters()}, {"params": model[2].parameters()}], lr=0.1)
    opt = wrap(inner)

    def closure():
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        return loss

    return model, opt, closure


@pytest.mark.parametrize("wrap, key", [
    (lambda o: rl.AMP(o, epsilon=0.1), "epsilon"),
    (lambda o: rl.AMP(o, epsilon=0.1, inner_steps=2), "inner_steps"),
    (lambda o: rl.ClipGradNorm(o, max_norm=0.1), "max_norm"),
    (lambda o: rl.GradientNormPenalty(o, strength=0.1, epsilon=0.01), "epsilon"),
])
def test_a_hyperparameter_of_a_shared_quantity_must_agree_across_groups(wrap, key):
    _, opt, closure = two_groups(wrap)
    opt.param_groups[1][key] = opt.param_groups[0][key] * 2
    with pytest.raises(ValueError, match=rf"needs the same {key} in every param group"):
        opt.step(closure)


def test_gradient_norm_strength_per_group():
    """Group 1 with γ = 0 steps with the plain gradient; group 0 with the penalized one."""
    def grads_after(wrap, strengths):
        model, opt, closure = two_groups(wrap)
        for g, s in zip(opt.param_groups, strengths):
            g["strength"] = s
        before = [p.detach().clone() for p in model.parameters()]
        opt.step(closure)
        return [(b - p.detach()) / 0.1 for b, p in zip(before, model.parameters())]

    gnp = lambda o: rl.GradientNormPenalty(o, strength=0.3, epsilon=1e-3)
    mixed = grads_after(gnp, [0.3, 0.0])
    penalized = grads_after(gnp, [0.3, 0.3])
    plain = grads_after(lambda o: o, [0.0, 0.0])
    for m, p in zip(mixed[:2], penalized[:2]):
        torch.testing.assert_close(m, p, rtol=1e-12, atol=1e-12)
    for m, p in zip(mixed[2:], plain[2:]):
        torch.testing.assert_close(m, p, rtol=1e-12, atol=1e-12)
    assert not torch.allclose(mixed[0], plain[0])


def test_amp_inner_lr_per_group_matches_a_hand_written_ascent():
    """One ascent step with ζ per group, projected on one ε-ball, then SGD from θ."""
    a = torch.tensor([[2.0, 0.5], [0.5, 1.0]], dtype=torch.float64)
    w1 = nn.Parameter(torch.tensor([1.0, -1.0], dtype=torch.float64))
    w2 = nn.Parameter(torch.tensor([0.5], dtype=torch.float64))
    opt = rl.AMP(torch.optim.SGD([{"params": [w1]}, {"params": [w2], "inner_lr": 3.0}], lr=0.1),
                 epsilon=0.2, inner_lr=1.0)

    def loss_at(u1, u2):
        return 0.5 * u1 @ a @ u1 + (u2 ** 2).sum() * (u1 ** 2).sum()

    def closure():
        opt.zero_grad()
        loss = loss_at(w1, w2)
        loss.backward()
        return loss

    u1, u2 = w1.detach().clone().requires_grad_(), w2.detach().clone().requires_grad_()
    g1, g2 = torch.autograd.grad(loss_at(u1, u2), [u1, u2])
    d1, d2 = 1.0 * g1, 3.0 * g2
    scale = min(1.0, 0.2 / float(torch.cat([d1, d2]).norm()))
    p1, p2 = (u1 + scale * d1).detach().requires_grad_(), (u2 + scale * d2).detach().requires_grad_()
    h1, h2 = torch.autograd.grad(loss_at(p1, p2), [p1, p2])
    opt.step(closure)
    torch.testing.assert_close(w1.detach(), u1.detach() - 0.1 * h1, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(w2.detach(), u2.detach() - 0.1 * h2, rtol=1e-12, atol=1e-12)


def test_perpgrad_projection_and_rescale_per_group():
    """Group 0 per tensor with rescale, group 1 globally without: each as the pure function says."""
    model, opt, closure = two_groups(lambda o: rl.PerpGrad(o))
    opt.param_groups[1]["projection"] = "global"
    opt.param_groups[1]["rescale"] = False
    params = list(model.parameters())
    before = [p.detach().clone() for p in params]
    closure()
    grads = [p.grad.clone() for p in params]
    expected = (rl.functional.perpendicular_gradient(before[:2], grads[:2], "per-tensor", True)
                + rl.functional.perpendicular_gradient(before[2:], grads[2:], "global", False))
    opt.step(closure)
    for b, p, e in zip(before, params, expected):
        torch.testing.assert_close(p.detach(), b - 0.1 * e, rtol=1e-12, atol=1e-12)


def test_hyperparameters_are_in_param_groups_not_attributes():
    w = nn.Parameter(torch.zeros(2))
    cases = [
        (rl.AMP(torch.optim.SGD([w], lr=0.1), epsilon=0.3, inner_steps=2, inner_lr=0.5),
         {"epsilon": 0.3, "inner_steps": 2, "inner_lr": 0.5}),
        (rl.GradientNormPenalty(torch.optim.SGD([w], lr=0.1), strength=0.2, epsilon=0.05),
         {"strength": 0.2, "epsilon": 0.05}),
        (rl.ClipGradNorm(torch.optim.SGD([w], lr=0.1), max_norm=2.0), {"max_norm": 2.0}),
        (rl.PerpGrad(torch.optim.SGD([w], lr=0.1), projection="global", rescale=False),
         {"projection": rl.PerpGradProjection.GLOBAL, "rescale": False}),
        (rl.DecoupledWeightDecay(torch.optim.SGD([w], lr=0.1), lr_scaled=False),
         {"reglab_lr_scaled": False}),
    ]
    for opt, expected in cases:
        group = opt.param_groups[0]
        assert {k: group[k] for k in expected} == expected
        for k in expected:
            assert not hasattr(opt, k), f"{type(opt).__name__} keeps {k} as an attribute"
