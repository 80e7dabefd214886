"""SMART: symmetric KL against explicit sums; the adversarial term against a per-example loop of
the same ascent; the Bregman proximal term and the momentum teacher against a hand computation."""

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import reglab as rl
from reglab.functional import ema_update_, smart_ascent, symmetric_kl


def mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 10), nn.Tanh(), nn.Linear(10, 4)).double()


def sym_kl_loop(a, b):
    out = []
    for i in range(a.shape[0]):
        p, q = a[i].softmax(-1).tolist(), b[i].softmax(-1).tolist()
        kl_pq = sum(pk * math.log(pk / qk) for pk, qk in zip(p, q))
        kl_qp = sum(qk * math.log(qk / pk) for pk, qk in zip(p, q))
        out.append(kl_pq + kl_qp)
    return out


def test_symmetric_kl_is_the_sum_of_both_kl_divergences():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(5, 4, generator=g, dtype=torch.float64), torch.randn(5, 4, generator=g,
                                                                           dtype=torch.float64)
    assert symmetric_kl(a, b).tolist() == pytest.approx(sym_kl_loop(a, b), rel=1e-10)
    assert float(symmetric_kl(a, a).abs().max()) == 0.0


def loop_smoothness(model, x, noise, eps, eta, steps):
    """The paper's ascent one example at a time, then mean ℓ_s(f(x̃), f(x))."""
    total = 0.0
    for i in range(x.shape[0]):
        xi = x[i:i + 1]
        clean = model(xi).detach()
        xa = xi + noise[i:i + 1].clamp(-eps, eps)
        for _ in range(steps):
            xa = xa.detach().requires_grad_()
            p, q = model(xa).softmax(-1), clean.softmax(-1)
            loss = ((p - q) * (p.log() - q.log())).sum()
            (g,) = torch.autograd.grad(loss, xa)
            xa = xa.detach() + eta * g / g.abs().max()
            xa = torch.minimum(torch.maximum(xa, xi - eps), xi + eps)
        total += sym_kl_loop(model(xa).detach(), clean)[0]
    return total / x.shape[0]


@pytest.mark.parametrize("steps", [0, 1, 3])
def test_adversarial_term_equals_a_per_example_loop(steps):
    model = mlp()
    x = torch.randn(6, 3, dtype=torch.float64)
    crit = rl.SMART(model, strength=1.0, proximal=0.0, epsilon=0.2, step_size=0.07,
                    noise_std=0.05, steps=steps, generator=torch.Generator().manual_seed(3))
    noise = crit.draw(x)
    crit.generator.manual_seed(3)
    got = float(crit.smoothness(x, model(x)).detach())
    assert got == pytest.approx(loop_smoothness(model, x, noise, 0.2, 0.07, steps), rel=1e-9)


def test_ascent_stays_in_the_ball_and_raises_the_divergence():
    model = mlp()
    x = torch.randn(8, 3, dtype=torch.float64)
    noise = 1e-3 * torch.randn(8, 3, dtype=torch.float64)
    clean = model(x)
    start = smart_ascent(model, x, clean, noise, 0.3, 0.1, 0)
    end = smart_ascent(model, x, clean, noise, 0.3, 0.1, 5)
    assert float((end - x).abs().max()) <= 0.3 + 1e-12
    with torch.no_grad():
        assert float(symmetric_kl(model(end), clean).mean()) > 10 * float(
            symmetric_kl(model(start), clean).mean())


def test_proximal_term_and_momentum_teacher_match_a_hand_computation():
    model = mlp()
    theta0 = copy.deepcopy(model)
    x, y = torch.randn(5, 3, dtype=torch.float64), torch.tensor([0, 1, 2, 3, 0])
    beta, mu = 0.75, 2.0
    crit = rl.SMART(model, strength=0.0, proximal=mu, momentum=beta)
    first = crit(model(x), y, inputs=x)  # teacher = θ0 = θ: D = 0
    torch.testing.assert_close(first, F.cross_entropy(model(x), y))
    with torch.no_grad():  # an optimizer step, by hand
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    theta1 = copy.deepcopy(model)
    logits = model(x)
    got = crit(logits, y, inputs=x)
    hand = sum(sym_kl_loop(logits.detach(), theta0(x).detach())) / 5
    assert float(got.detach()) == pytest.approx(float(F.cross_entropy(logits, y).detach()) + mu * hand,
                                                rel=1e-10)
    for (name, p0), p1 in zip(theta0.named_parameters(), theta1.parameters()):
        torch.testing.assert_close(crit.teacher()[name], (1 - beta) * p1 + beta * p0)
    got.backward()  # the gradient reaches θ through the student's logits only
    assert all(p.grad is not None for p in model.parameters())
    assert all(not t.requires_grad for t in crit.teacher().values())


def test_ema_update_in_place():
    t, p = [torch.ones(2)], [torch.full((2,), 3.0)]
    ema_update_(t, p, 0.9)
    torch.testing.assert_close(t[0], torch.full((2,), 0.9 + 0.3))


def test_full_loss_eval_mode_state_and_errors():
    model = mlp()
    x, y = torch.randn(4, 3, dtype=torch.float64), torch.tensor([0, 1, 2, 3])
    crit = rl.SMART(model, strength=3.0, proximal=1.0, epsilon=0.1, step_size=0.05,
                    generator=torch.Generator().manual_seed(0))
    assert any(k.startswith("teacher_") for k in crit.state_dict())
    logits = model(x)
    via_hook = crit(logits, y)
    via_hook.backward()
    crit.eval()
    torch.testing.assert_close(crit(logits, y), F.cross_entropy(logits, y))
    crit.remove()
    assert not model._forward_pre_hooks
    fresh = rl.SMART(model, strength=1.0)
    fresh.remove()
    with pytest.raises(ValueError, match="needs the model's inputs"):
        fresh(logits, y)
    with pytest.raises(ValueError, match="momentum must be in"):
        rl.SMART(model, momentum=1.0)
    with pytest.raises(TypeError, match="model must be"):
        rl.SMART(None)
