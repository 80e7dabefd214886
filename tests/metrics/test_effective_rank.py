import math

import pytest
import torch

import reglab as rl


def orthonormal(n, k, seed=0):
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(n, k, generator=g, dtype=torch.float64))
    return q


@pytest.mark.parametrize("k", [1, 3, 7])
def test_rank_k_with_equal_singular_values_gives_k(k):
    # U diag(s, ..., s, 0, ...) Vᵀ: rank k, equal singular values
    u, v = orthonormal(40, 10, seed=1), orthonormal(10, 10, seed=2)
    s = torch.zeros(10, dtype=torch.float64)
    s[:k] = 2.5
    z = u @ torch.diag(s) @ v.T
    assert float(rl.effective_rank(z, eps=0.0)) == pytest.approx(k, rel=1e-9)
    # the paper's eps moves it only slightly
    assert float(rl.effective_rank(z)) == pytest.approx(k, rel=1e-4)


def test_equals_exp_entropy_of_normalized_singular_values_by_hand():
    g = torch.Generator().manual_seed(3)
    z = torch.randn(30, 6, generator=g, dtype=torch.float64) * torch.tensor(
        [5, 3, 1, 0.5, 0.1, 0.01]
    )
    sigma = torch.linalg.svdvals(z).tolist()
    p = [s / sum(sigma) for s in sigma]
    expected = math.exp(-sum(q * math.log(q) for q in p))
    assert float(rl.effective_rank(z, eps=0.0)) == pytest.approx(expected, rel=1e-12)


def test_isotropic_gaussian_is_close_to_full_rank():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(2000, 64, generator=g)
    assert 60 < float(rl.effective_rank(z)) <= 64


def test_bad_input_names_the_problem():
    with pytest.raises(ValueError, match="eps must be >= 0"):
        rl.effective_rank(torch.ones(3, 2), eps=-1.0)
    with pytest.raises(ValueError, match=r"shape \(N, K\)"):
        rl.effective_rank(torch.ones(3))
    with pytest.raises(ValueError, match="all-zero"):
        rl.effective_rank(torch.zeros(3, 2))
