"""VNE (reglab.activity.vne): closed forms (log d, log k), the SVD formula, the sign."""

import math

import pytest
import torch
from torch import nn

import reglab as rl
from reglab.activity import vne


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_vne_isotropic_features_give_log_d():
    z = torch.randn(20000, 8, dtype=torch.float64, generator=gen())
    assert abs(float(vne(z)) - math.log(8)) < 0.01


@pytest.mark.parametrize("k", [1, 3, 5])
def test_vne_rank_k_features_give_log_k(k):
    basis = torch.linalg.qr(torch.randn(10, k, dtype=torch.float64, generator=gen()))[0]  # 10 x k
    coeff = torch.eye(k, dtype=torch.float64).repeat(4, 1)  # every basis direction equally often
    assert math.isclose(float(vne(coeff @ basis.T)), math.log(k), abs_tol=1e-9)


def test_vne_equals_the_svd_formula_and_gradient_is_finite_when_rank_deficient():
    z = torch.randn(6, 9, dtype=torch.float64, generator=gen())
    zn = z / z.norm(dim=1, keepdim=True) / math.sqrt(6)
    lam = torch.linalg.svdvals(zn) ** 2
    torch.testing.assert_close(vne(z), -(lam * lam.log()).sum())
    low = (torch.randn(8, 2, dtype=torch.float64, generator=gen()) @
           torch.randn(2, 5, dtype=torch.float64, generator=gen())).requires_grad_()
    vne(low).backward()
    assert torch.isfinite(low.grad).all()


def test_vne_penalty_sign_and_negative_strength():
    model = nn.Sequential(nn.Linear(4, 6)).double()
    inp = torch.randn(10, 4, dtype=torch.float64, generator=gen())
    pen = rl.VNE(model, modules="0", strength=0.5)
    neg = rl.VNE(model, modules="0", strength=-0.5)
    out = model(inp)
    torch.testing.assert_close(pen(), -0.5 * vne(out))
    torch.testing.assert_close(neg(), 0.5 * vne(out))
