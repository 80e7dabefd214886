"""Wrappers nested inside each other: gradient rewrites around closure-evaluating wrappers.

An outer rewrite (clipping, ⊥Grad, decoupled decay) passes the closure through and acts after
the inner wrapper's passes, on the gradient it finally steps with, at the restored weights. Each
nesting is checked against a step written by hand on a quadratic, in float64.
"""

import pytest
import torch
from torch import nn
from wrapper_checks import LR, quadratic, step_once, toy

import reglab as rl

RHO, TAU, WD, LAM = 0.3, 0.5, 0.2, 0.05


def sam_gradient(a, b, w):
    """(∇L(w), ∇L(w + ε̂)) of the quadratic, ε̂ = ρ g/‖g‖."""
    g0 = a @ w - b
    return g0, a @ (w + RHO * g0 / g0.norm()) - b


def test_clip_around_sam_clips_the_perturbed_gradient():
    a, b, w0 = quadratic(n=5)
    _, g1 = sam_gradient(a, b, w0)
    assert g1.norm() > TAU  # the clipping is active
    expected = w0 - LR * TAU * g1 / g1.norm()
    w, _ = step_once(lambda o: rl.ClipGradNorm(rl.SAM(o, rho=RHO), max_norm=TAU), a, b, w0)
    torch.testing.assert_close(w, expected, rtol=1e-12, atol=1e-12)


def test_perpgrad_around_sam_projects_against_the_restored_weights():
    a, b, w0 = quadratic(n=5)
    _, g1 = sam_gradient(a, b, w0)
    expected = w0 - LR * (g1 - (w0 @ g1) / (w0 @ w0) * w0)
    wrap = lambda o: rl.PerpGrad(rl.SAM(o, rho=RHO), projection="global", rescale=False)
    w, _ = step_once(wrap, a, b, w0)
    torch.testing.assert_close(w, expected, rtol=1e-12, atol=1e-12)


def test_decoupled_decay_around_sam_decays_after_both_passes():
    a, b, w0 = quadratic(n=5)
    _, g1 = sam_gradient(a, b, w0)  # both gradients at the undecayed weights
    expected = w0 * (1 - LR * WD) - LR * g1
    w, loss = step_once(lambda o: rl.DecoupledWeightDecay(rl.SAM(o, rho=RHO), weight_decay=WD), a, b, w0)
    torch.testing.assert_close(w, expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(loss, 0.5 * w0 @ a @ w0 - b @ w0)


def test_proximal_l1_around_sam_thresholds_after_the_sam_step():
    a, b, w0 = quadratic(n=5)
    _, g1 = sam_gradient(a, b, w0)
    moved = w0 - LR * g1
    expected = torch.sign(moved) * (moved.abs() - LR * LAM).clamp_min(0)
    w, _ = step_once(lambda o: rl.ProximalL1(rl.SAM(o, rho=RHO), strength=LAM), a, b, w0)
    torch.testing.assert_close(w, expected, rtol=1e-12, atol=1e-12)


def test_three_deep_clip_decay_sam():
    a, b, w0 = quadratic(n=5)
    _, g1 = sam_gradient(a, b, w0)
    expected = w0 * (1 - LR * WD) - LR * TAU * g1 / g1.norm()
    wrap = lambda o: rl.ClipGradNorm(rl.DecoupledWeightDecay(rl.SAM(o, rho=RHO), weight_decay=WD), max_norm=TAU)
    w, _ = step_once(wrap, a, b, w0)
    torch.testing.assert_close(w, expected, rtol=1e-12, atol=1e-12)


CLOSURE_WRAPPERS = {
    "sam": lambda o: rl.SAM(o, rho=0.1),
    "asam": lambda o: rl.SAM(o, rho=0.5, adaptive=True),
    "amp": lambda o: rl.AMP(o, epsilon=0.1, inner_steps=2),
    "gradient-norm": lambda o: rl.GradientNormPenalty(o, strength=0.1, epsilon=0.01),
}
REWRITES = {
    "clip": lambda o: rl.ClipGradNorm(o, max_norm=0.05),
    "perpgrad": lambda o: rl.PerpGrad(o),
    "decay": lambda o: rl.DecoupledWeightDecay(o, weight_decay=0.5),
}


@pytest.mark.parametrize("outer", REWRITES)
@pytest.mark.parametrize("inner", CLOSURE_WRAPPERS)
def test_rewrite_around_a_closure_wrapper_equals_the_reverse_nesting(outer, inner):
    """rewrite(closure_wrapper(opt)) takes the same steps as closure_wrapper(rewrite(opt))."""
    r, c = REWRITES[outer], CLOSURE_WRAPPERS[inner]
    model, opt, closure = toy(lambda o: r(c(o)))
    model2, opt2, closure2 = toy(lambda o: c(r(o)))
    for _ in range(3):
        torch.testing.assert_close(opt.step(closure), opt2.step(closure2), rtol=0, atol=0)
    for p, q in zip(model.parameters(), model2.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-12, atol=1e-14)
    assert opt.state_dict()["step"] == 3 and opt.optimizer.state_dict()["step"] == 3


@pytest.mark.parametrize("outer", ["clip", "perpgrad", "decay"])
def test_recipe_runs_a_rewrite_around_sam(outer):
    """The issue's failure: Recipe accepted these and the first step said 'needs a closure'."""
    torch.manual_seed(0)
    model = nn.Linear(4, 3).double()
    x, y = torch.randn(8, 4, dtype=torch.float64), torch.randint(0, 3, (8,))
    opt = REWRITES[outer](rl.SAM(torch.optim.SGD(model.parameters(), lr=0.1), rho=0.1))
    recipe = rl.Recipe([opt])
    assert recipe.needs_closure
    before = [p.detach().clone() for p in model.parameters()]
    loss = recipe.step(model, x, y)
    assert torch.isfinite(loss)
    assert any(not torch.equal(p, q) for p, q in zip(before, model.parameters()))


def test_nesting_two_closure_wrappers_is_refused_when_built():
    w = nn.Parameter(torch.zeros(2))
    with pytest.raises(ValueError, match="SAM cannot wrap AMP: both re-evaluate the loss"):
        rl.SAM(rl.AMP(torch.optim.SGD([w], lr=0.1)))
    with pytest.raises(ValueError, match="GradientNormPenalty cannot wrap SAM"):
        rl.GradientNormPenalty(rl.ClipGradNorm(rl.SAM(torch.optim.SGD([w], lr=0.1))))


def test_nesting_a_wrapper_in_itself_is_refused_when_built():
    w = nn.Parameter(torch.zeros(2))
    with pytest.raises(ValueError, match=r"both keep \['max_norm'\] in the shared param_groups"):
        rl.ClipGradNorm(rl.ClipGradNorm(torch.optim.SGD([w], lr=0.1), max_norm=1.0), max_norm=0.5)


def test_rewrite_around_sam_without_closure_says_why():
    w = nn.Parameter(torch.zeros(2))
    opt = rl.ClipGradNorm(rl.SAM(torch.optim.SGD([w], lr=0.1)))
    w.grad = torch.ones(2)
    with pytest.raises(ValueError, match=r"ClipGradNorm.step needs a closure.*the wrapped SAM evaluates it"):
        opt.step()
