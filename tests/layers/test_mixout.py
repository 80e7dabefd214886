"""Mixout: the paper's formula with a reproduced mask (one draw per input column, or per entry), unbiasedness (statistical), gradients only to
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
    for mask, shape in ((rl.MixoutMask.NEURON, (1, 5)), (rl.MixoutMask.ENTRY, (6, 5))):
        got = RF.mixout(w, u, p, generator=torch.Generator().manual_seed(3), mask=mask)
        keep = torch.empty(shape, dtype=torch.float64).bernoulli_(1 - p, generator=torch.Generator().manual_seed(3))
        keep = keep.expand(6, 5)  # the paper's mask: one draw per input column, repeated over rows
        expected = (keep * w + (1 - keep) * u - p * u) / (1 - p)
        torch.testing.assert_close(got, expected, rtol=1e-15, atol=1e-15)
        assert 0 < int(keep.sum()) < keep.numel()


def swapped(p, mask, shape=(8, 6), seed=0, draws=1):
    """Which entries each draw swapped to the target: w = 1, u = 0, so kept entries are 1/(1-p), swapped 0."""
    g = torch.Generator().manual_seed(seed)
    w, u = torch.ones(shape, dtype=torch.float64), torch.zeros(shape, dtype=torch.float64)
    out = torch.stack([RF.mixout(w, u, p, generator=g, mask=mask) for _ in range(draws)])
    assert bool(((out == 0) | (out == 1 / (1 - p))).all())
    return out == 0


def test_default_mask_swaps_all_entries_of_an_input_column_together():
    gone = swapped(0.5, rl.MixoutMask.NEURON, draws=200)  # (draws, out, in)
    assert bool((gone == gone[:, :1, :]).all())  # every row of a column agrees
    assert 0 < int(gone[:, 0, :].sum()) < gone[:, 0, :].numel()
    assert rl.Mixout(nn.Linear(2, 2)).mask is rl.MixoutMask.NEURON
    w, u = torch.randn(8, 6), torch.randn(8, 6)
    default = RF.mixout(w, u, 0.5, generator=torch.Generator().manual_seed(4))
    neuron = RF.mixout(w, u, 0.5, generator=torch.Generator().manual_seed(4), mask="neuron")
    assert torch.equal(default, neuron)


def test_columns_are_swapped_independently_at_rate_p():
    p, n = 0.3, 4000
    cols = swapped(p, rl.MixoutMask.NEURON, shape=(3, 5), seed=1, draws=n)[:, 0, :].double()  # (n, in)
    rate, se = cols.mean(0), (p * (1 - p) / n) ** 0.5
    assert bool(((rate - p).abs() <= 5 * se).all())
    both = (cols[:, :, None] * cols[:, None, :]).mean(0)  # P(j and k swapped) = p² for j != k
    off = both[~torch.eye(5, dtype=torch.bool)]
    assert bool(((off - p * p).abs() <= 5 * (p * p * (1 - p * p) / n) ** 0.5).all())
    assert bool((cols.std(0) > 0).all())


def test_entry_mask_is_mixconnect_one_draw_per_weight():
    p, n = 0.4, 2000
    gone = swapped(p, rl.MixoutMask.ENTRY, shape=(4, 3), seed=2, draws=n).double()
    rate = gone.mean(0)
    assert bool(((rate - p).abs() <= 5 * (p * (1 - p) / n) ** 0.5).all())
    same_column = (gone[:, 0, 0] * gone[:, 1, 0]).mean()  # rows of one column are independent now
    assert abs(float(same_column) - p * p) <= 5 * (p * p * (1 - p * p) / n) ** 0.5


@pytest.mark.parametrize("mask", list(rl.MixoutMask))
def test_expected_mixed_weight_is_the_current_weight(mask):
    w = torch.randn(3, 4, dtype=torch.float64)
    u = w + torch.randn(3, 4, dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    n = 6000
    draws = torch.stack([RF.mixout(w, u, 0.8, generator=g, mask=mask) for _ in range(n)])
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
    keep = torch.empty(1, 4, dtype=torch.float64).bernoulli_(1 - p, generator=torch.Generator().manual_seed(5))
    # the true derivative B/(1 - p); the official code's backward leaves out the 1/(1 - p)
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
    with pytest.raises(ValueError, match="mask must be one of entry, neuron"):
        rl.apply_mixout(nn.Sequential(nn.Linear(2, 2)), p=0.3, mask="column")
    with pytest.raises(ValueError, match="mask must be one of entry, neuron"):
        rl.Mixout(nn.Linear(2, 2), mask="entries")
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
    assert model[0].mask is rl.MixoutMask.NEURON


def test_apply_mixout_passes_the_mask_and_repr_shows_it():
    model = rl.apply_mixout(nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)), p=0.5, mask="entry")
    assert model[0].mask is rl.MixoutMask.ENTRY and model[2].mask is rl.MixoutMask.ENTRY
    assert "mask=entry" in repr(model[0])
