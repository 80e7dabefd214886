"""Kurtosis / KURE (reglab.activity.kurtosis): closed forms, a plain loop, gradcheck, weights or activations."""

import math

import pytest
import torch
from torch import nn

import reglab as rl
from reglab.activity import kurtosis


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def loop_kurtosis(values: list[float]) -> float:
    n = len(values)
    mu = sum(values) / n
    var = sum((v - mu) ** 2 for v in values) / n
    return sum((v - mu) ** 4 for v in values) / n / var**2


def test_kurtosis_equals_a_plain_loop_and_known_values():
    x = torch.randn(3, 7, dtype=torch.float64, generator=gen())
    assert math.isclose(float(kurtosis(x)), loop_kurtosis(x.flatten().tolist()), rel_tol=1e-12)
    assert float(kurtosis(torch.tensor([-2.0, 2.0, -2.0, 2.0], dtype=torch.float64))) == 1.0
    # uniform grid on [0, 1): 1.8 in the limit; Gaussian: 3 (statistical, fixed seed)
    grid = torch.arange(100000, dtype=torch.float64) / 100000
    assert abs(float(kurtosis(grid)) - 1.8) < 1e-6
    gauss = torch.randn(200000, dtype=torch.float64, generator=gen())
    assert abs(float(kurtosis(gauss)) - 3.0) < 0.05  # sd of the estimate about 0.011
    with pytest.raises(ValueError, match="at least 2 entries"):
        kurtosis(torch.ones(1))


def test_kurtosis_gradient_in_float64():
    x = torch.randn(4, 3, dtype=torch.float64, generator=gen(), requires_grad=True)
    assert torch.autograd.gradcheck(kurtosis, (x,))


def mlp() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 2)).double()


def test_penalty_on_weights_is_the_mean_over_layers_and_pulls_towards_the_target():
    model = mlp()
    pen = rl.Kurtosis(model, modules=["0", "2"], strength=0.5, target=1.8)
    model(torch.randn(4, 3, dtype=torch.float64, generator=gen()))
    loop = sum((loop_kurtosis(m.weight.flatten().tolist()) - 1.8) ** 2 for m in (model[0], model[2])) / 2
    value = pen()
    assert math.isclose(value.item(), 0.5 * loop, rel_tol=1e-10)
    value.backward()
    assert model[0].weight.grad is not None and model[0].bias.grad is None  # weights only


def test_penalty_on_activations_and_refusals():
    model = mlp()
    inp = torch.randn(6, 3, dtype=torch.float64, generator=gen())
    pen = rl.Kurtosis(model, modules="0", strength=1.0, target=3.0, weights=False)
    with torch.no_grad():  # before the step's forward: a run under no_grad is recorded as silent
        expected = (loop_kurtosis(model[0](inp).flatten().tolist()) - 3.0) ** 2
    model(inp)
    assert math.isclose(pen().item(), expected, rel_tol=1e-10)
    with pytest.raises(ValueError, match="'1' \\(ReLU\\) has no weight"):
        rl.Kurtosis(model, modules="1")
    with pytest.raises(ValueError, match="target must be >= 1"):
        rl.Kurtosis(model, modules="0", target=0.5)


def test_training_with_kure_moves_the_weights_kurtosis_to_the_target():
    torch.manual_seed(0)
    layer = nn.Linear(40, 40).double()
    with torch.no_grad():  # heavy-tailed start: Laplace weights, kurtosis about 6
        layer.weight.copy_(torch.distributions.Laplace(0.0, 0.1).sample((40, 40)).double())
    pen = rl.Kurtosis(layer, modules="", strength=1.0)
    opt = torch.optim.Adam(layer.parameters(), lr=3e-3)
    before = float(kurtosis(layer.weight.detach()))
    for _ in range(200):
        opt.zero_grad()
        layer(torch.zeros(1, 40, dtype=torch.float64))
        pen().backward()
        opt.step()
    after = float(kurtosis(layer.weight.detach()))
    assert before > 4.0 and abs(after - 1.8) < 0.2
