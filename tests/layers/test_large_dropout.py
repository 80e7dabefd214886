"""Very large dropout: the surgery wraps the final linear layer, drops its input at rate p with an
exact 1/(1-p) rescale, is the plain model in eval, and applying it twice changes nothing more."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import reglab as rl


def mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3))


def test_surgery_wraps_the_last_linear_and_eval_is_the_plain_model():
    model, plain = mlp(), mlp()
    x = torch.randn(6, 4)
    out = rl.apply_large_dropout(model, p=0.9)
    assert out is model and isinstance(model[4], rl.LargeDropout)
    assert model[4].layer is not None and model[4].p == 0.9
    torch.testing.assert_close(model.eval()(x), plain(x))
    layer = model[4]
    rl.apply_large_dropout(model, p=0.5)
    rl.apply_large_dropout(model, p=0.5, before="4")
    assert model[4] is layer and layer.p == 0.9  # idempotent


def test_input_of_the_layer_is_dropped_at_rate_p_with_exact_rescale():
    p, n = 0.9, 50000
    layer = rl.LargeDropout(nn.Identity(), p=p, generator=torch.Generator().manual_seed(0))
    x = torch.rand(n, dtype=torch.float64) + 0.5
    out = layer(x)
    kept = out != 0
    assert abs(float(1 - kept.double().mean()) - p) < 4 * (p * (1 - p) / n) ** 0.5
    assert torch.equal(out[kept], x[kept] / (1 - p))


def test_before_names_a_layer_and_errors_are_clear():
    model = mlp()
    rl.apply_large_dropout(model, p=0.5, before="2")
    assert isinstance(model[2], rl.LargeDropout) and type(model[4]) is nn.Linear
    with pytest.raises(ValueError, match="before must name a submodule"):
        rl.apply_large_dropout(mlp(), before="head")
    with pytest.raises(ValueError, match="no nn.Linear"):
        rl.apply_large_dropout(nn.Sequential(nn.ReLU()))
    root = nn.Linear(3, 2)
    assert rl.apply_large_dropout(root).layer is root


def test_fine_tuning_through_the_surgery_trains():
    model = rl.apply_large_dropout(mlp(), p=0.9)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(32, 4), torch.randint(0, 3, (32,))
    for _ in range(5):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    assert torch.isfinite(loss) and model[0].weight.grad is not None


def test_binding_a_recipe_name_applies_the_surgery():
    from reglab._core.binding import SetUp, bind

    model = mlp()
    assert bind("large-dropout-finetune", {"p": 0.8}, SetUp(model)) is None
    assert isinstance(model[4], rl.LargeDropout) and model[4].p == 0.8
