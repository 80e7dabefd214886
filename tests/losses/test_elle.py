"""ELLE: the estimator equals a per-example loop; as ε → 0 it matches the double-backprop
curvature measure it approximates, (½α(1−α) dᵀ∇²ℓ d)², on a small smooth MLP; its gradient is an
ordinary one (gradcheck, no create_graph); the hook records the training input."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import reglab as rl
from reglab.functional import elle_points, local_linearity_error


def mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 12), nn.Tanh(), nn.Linear(12, 12), nn.Tanh(),
                         nn.Linear(12, 4)).double()


def loop_error(model, x, y, x_a, x_b, alpha):
    total = 0.0
    for i in range(x.shape[0]):
        def ell(v):
            return float(F.cross_entropy(model(v[None]), y[i:i + 1]).detach())
        a = float(alpha[i])
        x_c = a * x_a[i] + (1 - a) * x_b[i]
        total += (ell(x_c) - a * ell(x_a[i]) - (1 - a) * ell(x_b[i])) ** 2
    return total / x.shape[0]


def test_penalty_equals_a_loop_over_examples_with_the_same_draws():
    model = mlp()
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(6, 3, dtype=torch.float64), torch.randint(0, 4, (6,), generator=g)
    crit = rl.ELLE(model, epsilon=0.3, strength=1.0, generator=torch.Generator().manual_seed(5))
    u_a, u_b, alpha = crit.draw(x)
    x_a, x_b, x_c = elle_points(x, 0.3, u_a, u_b, alpha)
    assert float((x_a - x).abs().max()) <= 0.3 and float((x_b - x).abs().max()) <= 0.3
    crit.generator.manual_seed(5)
    got = float(crit.penalty(x, y).detach())
    assert got == pytest.approx(loop_error(model, x, y, x_a, x_b, alpha), rel=1e-10)


def test_matches_the_double_backprop_curvature_measure_as_epsilon_shrinks():
    model = mlp()
    x = torch.randn(5, 3, dtype=torch.float64)
    y = torch.tensor([0, 1, 2, 3, 0])
    g = torch.Generator().manual_seed(2)
    u_a, u_b = torch.rand(5, 3, generator=g, dtype=torch.float64), torch.rand(5, 3, generator=g,
                                                                             dtype=torch.float64)
    alpha = torch.rand(5, generator=g, dtype=torch.float64)
    errors = []
    for eps in (1e-2, 1e-3):
        x_a, x_b, x_c = elle_points(x, eps, u_a, u_b, alpha)
        losses = [F.cross_entropy(model(v), y, reduction="none") for v in (x_a, x_b, x_c)]
        elle = float(local_linearity_error(*losses, alpha).detach())
        # Reference: dᵀ H d with H the input Hessian of each example's loss, by double backprop.
        xc = x_c.clone().requires_grad_()
        grad = torch.autograd.grad(F.cross_entropy(model(xc), y, reduction="sum"), xc,
                                   create_graph=True)[0]
        d = x_a - x_b
        hvp = torch.autograd.grad((grad * d).sum(), xc)[0]
        quad = (hvp * d).sum(1)
        reference = float((0.5 * alpha * (1 - alpha) * quad).square().mean().detach())
        errors.append(abs(elle / reference - 1))
    assert errors[1] < 0.02 and errors[1] < errors[0] / 3  # O(ε) relative error


def test_gradient_is_an_ordinary_one_and_passes_gradcheck():
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 2)).double()
    x, y = torch.randn(4, 2, dtype=torch.float64), torch.tensor([0, 1, 1, 0])
    draws = (torch.rand(4, 2, dtype=torch.float64), torch.rand(4, 2, dtype=torch.float64),
             torch.rand(4, dtype=torch.float64))
    x_a, x_b, x_c = elle_points(x, 0.5, *draws)

    def e(w):
        out = torch.func.functional_call(model, {"0.weight": w}, (torch.cat([x_a, x_b, x_c]),))
        ls = F.cross_entropy(out, y.repeat(3), reduction="none")
        return local_linearity_error(ls[:4], ls[4:8], ls[8:], draws[2])

    assert torch.autograd.gradcheck(e, (model[0].weight.detach().clone().requires_grad_(),))


def test_module_is_ce_plus_lambda_e_and_the_hook_records_the_training_input():
    model = mlp()
    x, y = torch.randn(6, 3, dtype=torch.float64), torch.randint(0, 4, (6,))
    crit = rl.ELLE(model, epsilon=0.2, strength=7.0, generator=torch.Generator().manual_seed(0))
    logits = model(x)
    via_hook = crit(logits, y)
    crit.generator.manual_seed(0)
    explicit = crit(logits, y, inputs=x)
    crit.generator.manual_seed(0)
    expected = F.cross_entropy(logits, y) + 7.0 * crit.penalty(x, y)
    torch.testing.assert_close(via_hook, explicit)
    torch.testing.assert_close(via_hook, expected)
    via_hook.backward()  # no create_graph needed
    assert model[0].weight.grad is not None
    crit.eval()
    torch.testing.assert_close(crit(logits, y), F.cross_entropy(logits, y))
    crit.remove()
    assert not model._forward_pre_hooks


def test_missing_inputs_and_bad_arguments_raise():
    model = mlp()
    crit = rl.ELLE(model, epsilon=0.1, strength=1.0)
    with pytest.raises(ValueError, match="needs the model's inputs"):
        crit(torch.randn(2, 4, dtype=torch.float64), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="epsilon must be > 0"):
        rl.ELLE(model, epsilon=0.0)
    with pytest.raises(TypeError, match="model must be"):
        rl.ELLE(None)
