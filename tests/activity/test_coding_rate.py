"""Coding rate (reglab.activity.coding_rate): the eigenvalue formula in float64, gradcheck."""

import pytest
import torch
from torch import nn

import reglab as rl
from reglab.activity import coding_rate


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("shape", [(12, 5), (4, 9)])
@pytest.mark.parametrize("official", [False, True])
def test_coding_rate_matches_the_eigenvalue_formula_in_float64(shape, official):
    z = torch.randn(*shape, dtype=torch.float64, generator=gen())
    n, d = shape
    eps = 0.3
    scale = d / (n * (eps if official else eps**2))
    lam = torch.linalg.eigvalsh(z.T @ z)
    expected = 0.5 * torch.log1p(scale * lam.clamp_min(0)).sum()
    torch.testing.assert_close(coding_rate(z, eps, official_code_scaling=official), expected)


def test_coding_rate_gradient_in_float64():
    z = torch.randn(6, 4, dtype=torch.float64, generator=gen(), requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: coding_rate(t, 0.5), (z,))


def test_coding_rate_penalty_normalizes_rows_and_is_negated():
    model = nn.Sequential(nn.Linear(4, 3)).double()
    inp = torch.randn(10, 4, dtype=torch.float64, generator=gen())
    pen = rl.CodingRate(model, modules="0", strength=2.0, eps=0.5)
    raw = rl.CodingRate(model, modules="0", strength=2.0, eps=0.5, normalize=False)
    out = model(inp)
    torch.testing.assert_close(pen(), -2.0 * coding_rate(out / out.norm(dim=1, keepdim=True), 0.5))
    torch.testing.assert_close(raw(), -2.0 * coding_rate(out, 0.5))
