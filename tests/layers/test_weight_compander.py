import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

import reglab as rl
from reglab import functional as RF


def model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(2, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 4 * 4, 5),
                         nn.ReLU(), nn.Linear(5, 2)).double()


def test_function_is_odd_bounded_with_gain_at_zero_and_closed_form_gradient():
    v = torch.linspace(-5, 5, 101, dtype=torch.float64, requires_grad=True)
    w = RF.weight_compander(v, 0.5, 3.0)
    torch.testing.assert_close(w, 0.5 * torch.tanh(6.0 * v))  # independent closed form
    assert float(w.detach().abs().max()) <= 0.5
    torch.testing.assert_close(RF.weight_compander(-v, 0.5, 3.0), -w)
    w.sum().backward()
    torch.testing.assert_close(v.grad, 3.0 * (1 - (w.detach() / 0.5) ** 2))
    assert float(v.grad[50]) == pytest.approx(3.0)  # slope γ at 0


def test_gradcheck_float64_including_learnable_hyperparameters():
    v = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    a = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    g = torch.tensor(2.5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(RF.weight_compander, (v, a, g))


def test_apply_keeps_the_function_and_bounds_the_weights():
    m = model()
    x = torch.randn(4, 2, 6, 6, dtype=torch.float64)
    before = m(x)
    rl.apply_weight_compander(m, bound=1.0, gain=2.0)
    torch.testing.assert_close(m(x), before)
    for layer in (m[0], m[3], m[5]):
        assert parametrize.is_parametrized(layer, "weight")
        v = layer.parametrizations.weight.original
        torch.testing.assert_close(layer.weight, torch.tanh(2.0 * v))


def test_training_updates_v_and_gradient_flows_through_f():
    m = rl.apply_weight_compander(model(), bound=0.5, gain=3.0)
    x = torch.randn(4, 2, 6, 6, dtype=torch.float64)
    m(x).square().sum().backward()
    layer = m[5]
    v = layer.parametrizations.weight.original
    w = layer.weight.detach()
    # ∂L/∂v = γ(1 − (w/a)²)·∂L/∂w, with ∂L/∂w from the same model without the compander
    plain = model()
    plain[0].weight.data, plain[3].weight.data, plain[5].weight.data = (
        m[0].weight.detach(), m[3].weight.detach(), w)
    plain(x).square().sum().backward()
    torch.testing.assert_close(v.grad, 3.0 * (1 - (w / 0.5) ** 2) * plain[5].weight.grad)


def test_remove_restores_plain_weights_with_the_same_values():
    m = rl.apply_weight_compander(model(), bound=0.3, gain=2.0)
    with torch.no_grad():
        m[3].parametrizations.weight.original.mul_(5)  # move v: values differ from the start
    values = [m[i].weight.detach().clone() for i in (0, 3, 5)]
    rl.remove_weight_compander(m)
    for i, expected in zip((0, 3, 5), values):
        assert not parametrize.is_parametrized(m[i])
        assert isinstance(m[i].weight, nn.Parameter)
        assert torch.equal(m[i].weight.detach(), expected)


def test_apply_twice_changes_nothing_and_exclude_is_respected():
    m = rl.apply_weight_compander(model(), exclude=("5",))
    rl.apply_weight_compander(m, exclude=("5",))
    assert len(m[0].parametrizations.weight) == 1
    assert not parametrize.is_parametrized(m[5])


def test_learnable_hyperparameters_are_trained_and_in_state_dict():
    m = rl.apply_weight_compander(model(), learnable=True)
    names = [n for n, _ in m.named_parameters()]
    assert "0.parametrizations.weight.0.bound" in names and "0.parametrizations.weight.0.gain" in names
    m(torch.randn(2, 2, 6, 6, dtype=torch.float64)).sum().backward()
    assert m[0].parametrizations.weight[0].gain.grad is not None
    fixed = rl.apply_weight_compander(model())
    assert "0.parametrizations.weight.0.bound" in fixed.state_dict()


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="bound"):
        rl.apply_weight_compander(model(), bound=0.0)
    with pytest.raises(ValueError, match="gain"):
        rl.WeightCompander(gain=-1.0)
    with pytest.raises(TypeError, match="learnable"):
        rl.WeightCompander(learnable=1)
