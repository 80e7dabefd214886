"""Mixout: the paper's formula with a reproduced mask, unbiasedness (statistical), gradients only to
the current weights, p = 0 and eval are the plain layer, and the surgery helper."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import reglab as rl
from reglab import functional as RF


def linear(seed=0):
    torch.manual_seed(seed)
    return nn.Linear(4, 3).double()


def test_p_zero_and_eval_are_the_plain_linear():
    lin = linear()
    x = torch.randn(5, 4, dtype=torch.float64)
    assert torch.equal(rl.Mixout(lin, p=0.0)(x), lin(x))
    mixed = rl.Mixout(lin, p=0.9, target="zero")
    assert torch.equal(mixed.eval()(x), lin(x))


def test_mixed_weight_is_the_papers_formula_with_the_same_mask():
    w = torch.randn(6, 5, dtype=torch.float64)
    u = torch.randn(6, 5, dtype=torch.float64)
    p = 0.7
    got = RF.mixout(w, u, p, generator=torch.Generator().manual_seed(3))
    keep = torch.empty(6, 5, dtype=torch.float64).bernoulli_(1 - p, generator=torch.Generator().manual_seed(3))
    expected = (keep * w + (1 - keep) * u - p * u) / (1 - p)
    torch.testing.assert_close(got, expected, rtol=1e-15, atol=1e-15)
    assert 0 < int(keep.sum()) < keep.numel()


def test_expected_mixed_weight_is_the_current_weight():
    w = torch.randn(3, 4, dtype=torch.float64)
    u = w + torch.randn(3, 4, dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    n = 20000
    draws = RF.mixout(w.expand(n, 3, 4), u.expand(n, 3, 4), 0.8, generator=g)  # n independent masks
    mean, se = draws.mean(0), draws.std(0) / n ** 0.5
    assert bool(((mean - w).abs() <= 5 * se).all())
    assert float(se.min()) > 0  # the draws do vary


def test_expected_output_is_the_plain_output():
    lin = linear(1)
    layer = rl.Mixout(lin, p=0.5, target=torch.zeros(3, 4), generator=torch.Generator().manual_seed(1))
    x = torch.randn(2, 4, dtype=torch.float64)
    outs = torch.stack([layer(x) for _ in range(3000)])
    mean, se = outs.mean(0), outs.std(0) / 3000 ** 0.5
    assert bool(((mean - lin(x)).abs() <= 5 * se).all())


def test_at_the_target_the_layer_is_the_plain_linear():
    lin = linear(2)
    x = torch.randn(5, 4, dtype=torch.float64)
    torch.testing.assert_close(rl.Mixout(lin, p=0.9)(x), lin(x), rtol=1e-13, atol=1e-13)


def test_gradients_reach_only_the_current_weights_scaled_by_the_mask():
    lin = linear(3)
    p = 0.6
    layer = rl.Mixout(lin, p=p, target="zero", generator=torch.Generator().manual_seed(5))
    x = torch.randn(7, 4, dtype=torch.float64)
    c = torch.randn(7, 3, dtype=torch.float64)
    (layer(x) * c).sum().backward()
    keep = torch.empty(3, 4, dtype=torch.float64).bernoulli_(1 - p, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(lin.weight.grad, keep / (1 - p) * (c.T @ x))
    torch.testing.assert_close(lin.bias.grad, c.sum(0))
    assert not layer.target.requires_grad and layer.target.grad is None
    assert layer.weight is lin.weight and layer.bias is lin.bias


def test_apply_mixout_swaps_linears_in_place_and_is_idempotent():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Sequential(nn.Linear(8, 8)), nn.Linear(8, 2))
    params = list(model.parameters())
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    out = rl.apply_mixout(model, p=0.5, exclude=("3",))
    assert out is model
    assert isinstance(model[0], rl.Mixout) and isinstance(model[2][0], rl.Mixout)
    assert type(model[3]) is nn.Linear
    assert all(a is b for a, b in zip(params, model.parameters()))
    swapped = model[0]
    target = swapped.target.clone()
    rl.apply_mixout(model, p=0.9)
    assert model[0] is swapped and model[0].p == 0.5  # already mixout: unchanged
    assert isinstance(model[3], rl.Mixout)  # no longer excluded
    x, y = torch.randn(6, 4), torch.randint(0, 2, (6,))
    F.cross_entropy(model(x), y).backward()
    opt.step()
    assert not torch.equal(swapped.weight, target) and torch.equal(swapped.target, target)
    assert rl.select(model).names() == ("0.weight", "2.0.weight", "3.weight")


def test_apply_mixout_edge_cases():
    lin = nn.Linear(2, 2)
    wrapped = rl.apply_mixout(lin, p=0.3)
    assert isinstance(wrapped, rl.Mixout) and wrapped.weight is lin.weight
    attention = nn.ModuleDict({"attn": nn.MultiheadAttention(4, 2), "fc": nn.Linear(4, 4)})
    rl.apply_mixout(attention, p=0.3)
    assert type(attention["attn"].out_proj) is not rl.Mixout and isinstance(attention["fc"], rl.Mixout)
    with pytest.raises(ValueError, match="no nn.Linear layers"):
        rl.apply_mixout(nn.Sequential(nn.ReLU()), p=0.3)
    with pytest.raises(ValueError, match="target must be one of pretrained, zero"):
        rl.apply_mixout(nn.Sequential(nn.Linear(2, 2)), p=0.3, target="random")
    with pytest.raises(TypeError, match="exclude must be a sequence"):
        rl.apply_mixout(nn.Sequential(nn.Linear(2, 2)), p=0.3, exclude="0")
    with pytest.raises(ValueError, match="target must have the weight's shape"):
        rl.Mixout(nn.Linear(2, 2), target=torch.zeros(3))


def test_generator_state_is_saved_and_restored():
    a = rl.Mixout(linear(), p=0.5, generator=torch.Generator().manual_seed(0))
    x = torch.randn(3, 4, dtype=torch.float64)
    a(x)
    state = a.state_dict()
    b = rl.Mixout(linear(), p=0.5, generator=torch.Generator().manual_seed(99))
    b.load_state_dict(state)
    assert torch.equal(a(x), b(x))


def test_binding_a_recipe_name_applies_the_surgery():
    from reglab._core.binding import SetUp, bind

    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    assert bind("mixout", {"p": 0.7}, SetUp(model)) is None
    assert isinstance(model[0], rl.Mixout) and model[2].p == 0.7
