"""Least volume (reglab.activity.least_volume): a plain loop, closed forms, gradcheck, training."""

import math

import pytest
import torch
from torch import nn

import reglab as rl
from reglab.activity import least_volume


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def loop_volume(z: torch.Tensor, eta: float) -> float:
    n, m = z.shape
    product = 1.0
    for i in range(m):
        col = [float(z[k, i]) for k in range(n)]
        mu = sum(col) / n
        sd = math.sqrt(sum((c - mu) ** 2 for c in col) / (n - 1))
        product *= sd + eta
    return product ** (1 / m)


@pytest.mark.parametrize("eta", [1.0, 0.01])
def test_volume_equals_the_geometric_mean_loop(eta):
    z = torch.randn(9, 4, dtype=torch.float64, generator=gen()) * torch.tensor([3.0, 1.0, 0.1, 0.0], dtype=torch.float64)
    assert math.isclose(float(least_volume(z, eta)), loop_volume(z, eta), rel_tol=1e-12)


def test_scaling_every_dimension_scales_the_volume_when_eta_is_small():
    z = torch.randn(50, 3, dtype=torch.float64, generator=gen())
    v1, v5 = float(least_volume(z, 1e-12)), float(least_volume(5 * z, 1e-12))
    assert math.isclose(v5, 5 * v1, rel_tol=1e-9)


def test_gradient_in_float64_and_finite_on_a_collapsed_dimension():
    z = torch.randn(6, 3, dtype=torch.float64, generator=gen(), requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: least_volume(t, 0.5), (z,))
    flat = torch.randn(6, 3, dtype=torch.float64, generator=gen())
    flat[:, 1] = 2.0
    flat.requires_grad_()
    least_volume(flat).backward()
    assert torch.isfinite(flat.grad).all() and float(flat.grad[:, 1].abs().max()) == 0.0


def test_penalty_value_and_checks():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3)).double()
    inp = torch.randn(10, 4, dtype=torch.float64, generator=gen())
    pen = rl.LeastVolume(model, modules="0", strength=0.5, eta=0.2)
    out = model(inp).detach()
    assert math.isclose(pen().item(), 0.5 * loop_volume(out, 0.2), rel_tol=1e-12)
    with pytest.raises(ValueError, match="eta must be > 0"):
        rl.LeastVolume(model, modules="0", eta=0.0)


def test_training_collapses_the_dimensions_a_linear_autoencoder_does_not_need():
    """Data on a 2-d plane in R^6, 4 latent dimensions, decoder spectrally normalized: least volume
    leaves about 2 dimensions with spread; without it, all 4 keep theirs."""
    g = gen()
    x = torch.randn(256, 2, dtype=torch.float64, generator=g) @ torch.randn(2, 6, dtype=torch.float64, generator=g)

    def train(strength: float) -> torch.Tensor:
        torch.manual_seed(0)
        enc = nn.Linear(6, 4).double()
        dec = nn.utils.parametrizations.spectral_norm(nn.Linear(4, 6).double())
        model = nn.Sequential(enc, dec)
        pen = rl.LeastVolume(model, modules="0", strength=strength)
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        for _ in range(200):
            opt.zero_grad()
            loss = (model(x) - x).square().mean() + pen()
            loss.backward()
            opt.step()
        return enc(x).detach().std(0).sort(descending=True).values

    plain, lv = train(0.0), train(1.0)
    assert float(plain[3]) > 0.1 * float(plain[0])  # no dimension collapsed
    assert float(lv[2]) < 0.02 * float(lv[0]) and float(lv[1]) > 0.1 * float(lv[0])
