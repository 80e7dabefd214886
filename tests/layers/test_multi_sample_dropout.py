"""Multi-sample dropout: K independent inverted-dropout masks before a shared head, the loss is the
mean of the K losses (also through Recipe), eval and p = 0 are the plain head."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import reglab as rl
from reglab._core.outputs import SampleOutputs


def test_training_returns_k_outputs_of_the_head():
    head = nn.Linear(6, 3)
    layer = rl.MultiSampleDropout(head, p=0.5, samples=5)
    out = layer(torch.randn(4, 6))
    assert isinstance(out, SampleOutputs) and len(out) == 5
    assert all(o.shape == (4, 3) for o in out)


def test_masks_are_independent_inverted_dropout_with_rate_p():
    p, k = 0.3, 400
    x = torch.rand(8, 25, dtype=torch.float64) + 0.5  # no zeros in the input
    out = rl.MultiSampleDropout(nn.Identity(), p=p, samples=k, generator=torch.Generator().manual_seed(0))(x)
    stacked = torch.stack(list(out))
    kept = stacked != 0
    assert torch.equal(stacked[kept], (x.expand_as(stacked) / (1 - p))[kept])  # exact 1/(1-p)
    rate = 1 - kept.double().mean()
    n = kept.numel()
    assert abs(float(rate) - p) < 4 * (p * (1 - p) / n) ** 0.5
    assert not torch.equal(stacked[0], stacked[1])


def test_loss_is_the_mean_of_the_sample_losses_and_eval_is_plain():
    torch.manual_seed(0)
    head = nn.Sequential(nn.Linear(6, 6), nn.Tanh(), nn.Linear(6, 3))
    layer = rl.MultiSampleDropout(head, p=0.5, samples=4)
    x, y = torch.randn(5, 6), torch.randint(0, 3, (5,))
    outs = layer(x)
    loss = rl.multi_sample_loss(F.cross_entropy, outs, y)
    torch.testing.assert_close(loss, sum(F.cross_entropy(o, y) for o in outs) / 4)
    layer.eval()
    assert torch.equal(layer(x), head(x))
    assert torch.equal(rl.multi_sample_loss(F.cross_entropy, layer(x), y), F.cross_entropy(head(x), y))
    layer.train()
    layer.p = 0.0
    assert torch.equal(layer(x), head(x))


def test_expected_output_of_a_linear_head_is_the_plain_output():
    torch.manual_seed(1)
    head = nn.Linear(5, 2).double()
    x = torch.randn(3, 5, dtype=torch.float64)
    outs = torch.stack(list(rl.MultiSampleDropout(head, p=0.5, samples=20000)(x)))
    mean, se = outs.mean(0), outs.std(0) / 20000 ** 0.5
    assert bool(((mean - head(x)).abs() <= 5 * se).all())


def test_recipe_averages_the_loss_over_the_samples():
    def build():
        torch.manual_seed(0)
        body = nn.Linear(4, 8)
        head = rl.MultiSampleDropout(nn.Linear(8, 3), p=0.5, samples=3, generator=torch.Generator().manual_seed(7))
        return nn.Sequential(body, nn.ReLU(), head)

    x, y = torch.randn(6, 4), torch.randint(0, 3, (6,))
    model = build()
    recipe = rl.Recipe([torch.optim.SGD(model.parameters(), lr=0.1)])
    loss = recipe.step(model, x, y)
    manual = build()
    expected = rl.multi_sample_loss(F.cross_entropy, manual(x), y)
    torch.testing.assert_close(loss, expected.detach())


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match="samples must be >= 1, got 0"):
        rl.MultiSampleDropout(nn.Identity(), samples=0)
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\), got 1"):
        rl.MultiSampleDropout(nn.Identity(), p=1)
    with pytest.raises(TypeError, match="head must be an nn.Module"):
        rl.MultiSampleDropout(lambda x: x)


def test_surgery_wraps_the_head_and_binds_from_a_recipe_name():
    from reglab._core.binding import SetUp, bind

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    head = model[2]
    assert bind("multi-sample-dropout", {"p": 0.5, "samples": 4}, SetUp(model)) is None
    assert isinstance(model[2], rl.MultiSampleDropout) and model[2].head is head
    assert model[2].samples == 4
    rl.apply_multi_sample_dropout(model, p=0.1, samples=2)
    rl.apply_multi_sample_dropout(model, head="2.head")
    assert model[2].head is head and model[2].p == 0.5  # idempotent
    outs = model(torch.randn(5, 4))
    assert len(outs) == 4
    named = nn.Sequential(nn.Linear(4, 8), nn.Sequential(nn.ReLU(), nn.Linear(8, 3)))
    rl.apply_multi_sample_dropout(named, head="1")
    assert isinstance(named[1], rl.MultiSampleDropout)
    with pytest.raises(ValueError, match="head must name a submodule"):
        rl.apply_multi_sample_dropout(named, head="classifier")
