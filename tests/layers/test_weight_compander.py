import math

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


def test_paper_function_against_hand_computed_values():
    # Ψ(v) = a·arctan(v/b) (eq. 1): arctan(1) = π/4, arctan(√3) = π/3, arctan(−1/√3) = −π/6
    v = torch.tensor([1.0, 0.5, 0.5 * math.sqrt(3), -0.5 / math.sqrt(3), 0.0], dtype=torch.float64)
    w = RF.weight_compander(v, 2.0, 0.5)
    expected = torch.tensor([2 * math.atan(2.0), math.pi / 2, 2 * math.pi / 3, -math.pi / 3, 0.0],
                            dtype=torch.float64)
    torch.testing.assert_close(w, expected)
    torch.testing.assert_close(RF.weight_compander(torch.tensor(1.0), 1.0, 1.0), torch.tensor(math.pi / 4))


def test_bounded_by_a_pi_over_2_and_gradient_is_eq_3():
    v = torch.linspace(-50, 50, 201, dtype=torch.float64, requires_grad=True)
    a, b = 0.7, 0.8
    w = RF.weight_compander(v, a, b)
    assert float(w.detach().abs().max()) < a * math.pi / 2
    torch.testing.assert_close(RF.weight_compander(-v, a, b), -w)
    w.sum().backward()
    # ∂Ψ/∂v = a / (b·(1 + v²/b²)) (eq. 3); a/b at v = 0, the largest slope
    torch.testing.assert_close(v.grad, a / (b * (1 + v.detach() ** 2 / b ** 2)))
    assert float(v.grad[100]) == pytest.approx(a / b)
    assert float(v.grad.max()) == pytest.approx(a / b)


def test_gradcheck_float64_including_learnable_hyperparameters():
    v = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    a = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(0.6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(RF.weight_compander, (v, a, b))


def test_apply_initializes_v_by_eq_4_and_keeps_the_function():
    m = model()
    x = torch.randn(4, 2, 6, 6, dtype=torch.float64)
    before = m(x)
    w0 = [m[i].weight.detach().clone() for i in (0, 3, 5)]
    rl.apply_weight_compander(m, scale=1.0, stretch=0.6)
    torch.testing.assert_close(m(x), before)
    for layer, w in zip((m[0], m[3], m[5]), w0):
        assert parametrize.is_parametrized(layer, "weight")
        v = layer.parametrizations.weight.original
        torch.testing.assert_close(v, 0.6 * torch.tan(w / 1.0))  # v = b·tan(w/a)
        torch.testing.assert_close(layer.weight, torch.atan(v / 0.6))
        assert layer.bias is not None and not parametrize.is_parametrized(layer, "bias")


def test_weights_beyond_the_bound_are_clipped_inside_it():
    layer = nn.Linear(3, 2).double()
    with torch.no_grad():
        layer.weight.fill_(5.0)  # beyond a·π/2 for a = 1
    rl.apply_weight_compander(layer, scale=1.0, stretch=1.0)
    v = layer.parametrizations.weight.original
    assert torch.isfinite(v).all()
    assert float(layer.weight.detach().max()) == pytest.approx(math.pi / 2)


def test_training_updates_v_and_gradient_flows_through_psi():
    m = rl.apply_weight_compander(model(), scale=0.5, stretch=0.8)
    x = torch.randn(4, 2, 6, 6, dtype=torch.float64)
    m(x).square().sum().backward()
    layer = m[5]
    v = layer.parametrizations.weight.original.detach()
    # ∂L/∂v = ∂L/∂w · a/(b(1 + v²/b²)), with ∂L/∂w from the same model without the compander
    plain = model()
    plain[0].weight.data, plain[3].weight.data, plain[5].weight.data = (
        m[0].weight.detach(), m[3].weight.detach(), layer.weight.detach())
    plain(x).square().sum().backward()
    torch.testing.assert_close(layer.parametrizations.weight.original.grad,
                               0.5 / (0.8 * (1 + v ** 2 / 0.8 ** 2)) * plain[5].weight.grad)


def test_remove_restores_plain_weights_with_the_same_values():
    m = rl.apply_weight_compander(model(), scale=0.6, stretch=0.5)
    with torch.no_grad():
        m[3].parametrizations.weight.original.mul_(5)  # move v: values differ from the start
    values = [m[i].weight.detach().clone() for i in (0, 3, 5)]
    x = torch.randn(4, 2, 6, 6, dtype=torch.float64)
    out = m(x)
    rl.remove_weight_compander(m)
    for i, expected in zip((0, 3, 5), values):
        assert not parametrize.is_parametrized(m[i])
        assert isinstance(m[i].weight, nn.Parameter)
        assert torch.equal(m[i].weight.detach(), expected)
    torch.testing.assert_close(m(x), out)


def test_apply_twice_changes_nothing_and_exclude_is_respected():
    m = rl.apply_weight_compander(model(), exclude=("5",))
    rl.apply_weight_compander(m, exclude=("5",))
    assert len(m[0].parametrizations.weight) == 1
    assert not parametrize.is_parametrized(m[5])


def test_learnable_pair_per_layer_is_trained_and_in_state_dict():
    m = rl.apply_weight_compander(model(), scale=0.5, stretch=1.0, learnable=True)
    names = [n for n, _ in m.named_parameters()]
    assert "0.parametrizations.weight.0.scale" in names and "0.parametrizations.weight.0.stretch" in names
    assert "3.parametrizations.weight.0.scale" in names  # one pair per layer (the paper's fine version)
    m(torch.randn(2, 2, 6, 6, dtype=torch.float64)).sum().backward()
    assert m[0].parametrizations.weight[0].stretch.grad is not None
    fixed = rl.apply_weight_compander(model())
    assert "0.parametrizations.weight.0.scale" in fixed.state_dict()
    assert not any("scale" in n for n, _ in fixed.named_parameters())


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="scale"):
        rl.apply_weight_compander(model(), scale=0.0)
    with pytest.raises(ValueError, match="stretch"):
        rl.WeightCompander(stretch=-1.0)
    with pytest.raises(TypeError, match="learnable"):
        rl.WeightCompander(learnable=1)
