import pytest
import torch
from torch import nn

import reglab as rl


class Quadratic(nn.Module):
    """L(w) = ½ wᵀ A w: its Hessian is A."""

    def __init__(self, a):
        super().__init__()
        self.a = a
        self.w = nn.Parameter(torch.ones(a.shape[0], dtype=a.dtype))

    def forward(self, x):
        return 0.5 * self.w @ self.a @ self.w


def quadratic_loss(out, y):
    return out


def spd(n, seed):
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
    eig = torch.linspace(0.1, 1.0, n, dtype=torch.float64)
    return q @ torch.diag(eig) @ q.T, eig


def test_exact_for_a_diagonal_hessian_at_any_sample_count():
    a = torch.diag(torch.tensor([0.5, 2.0, 3.0, -1.0], dtype=torch.float64))
    g = torch.Generator().manual_seed(0)
    assert (
        float(rl.hessian_trace(Quadratic(a), quadratic_loss, (None, None), samples=1, generator=g))
        == 4.5
    )


def test_unbiased_within_its_standard_error_for_a_dense_hessian():
    a, eig = spd(10, seed=3)
    g = torch.Generator().manual_seed(0)
    samples = 2000
    estimate = float(
        rl.hessian_trace(Quadratic(a), quadratic_loss, (None, None), samples=samples, generator=g)
    )
    off = a - torch.diag(torch.diag(a))
    stderr = float((2 * off.pow(2).sum() / samples).sqrt())
    assert abs(estimate - float(eig.sum())) < 4 * stderr
    assert stderr > 0  # the check above is not vacuous


def test_same_generator_seed_same_estimate_and_bad_samples():
    a, _ = spd(6, seed=1)
    model = Quadratic(a)
    one = rl.hessian_trace(
        model, quadratic_loss, (None, None), samples=5, generator=torch.Generator().manual_seed(7)
    )
    two = rl.hessian_trace(
        model, quadratic_loss, (None, None), samples=5, generator=torch.Generator().manual_seed(7)
    )
    assert torch.equal(one, two)
    with pytest.raises(ValueError, match="samples must be >= 1"):
        rl.hessian_trace(model, quadratic_loss, (None, None), samples=0)
