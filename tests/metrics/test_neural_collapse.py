"""neural_collapse: constructed collapsed features, a plain-loop NC1 and a non-ETF geometry."""

import math

import pytest
import torch

import reglab as rl


def simplex(c: int, d: int) -> torch.Tensor:
    """C unit vectors in R^d with pairwise cosine −1/(C−1), rotated at random."""
    e = torch.eye(c, dtype=torch.float64) - 1.0 / c
    e = e / e.norm(dim=1, keepdim=True)
    q = torch.linalg.qr(torch.randn(d, c, dtype=torch.float64, generator=torch.Generator().manual_seed(0)))[0]
    return 3.0 * e @ q.T


def test_collapsed_simplex_features_give_zero():
    means = simplex(4, 6)
    h, y = means.repeat(5, 1), torch.arange(4).repeat(5)
    out = rl.neural_collapse(h, y)
    assert float(out["nc1"]) < 1e-12 and float(out["etf_distance"]) < 1e-12


def test_nc1_matches_a_plain_loop_and_etf_distance_sees_unequal_angles():
    g = torch.Generator().manual_seed(1)
    y = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 2])
    h = torch.randn(9, 3, dtype=torch.float64, generator=g) + 2 * torch.eye(3, dtype=torch.float64)[y]
    mu_g = h.mean(0)
    mus = [h[y == c].mean(0) for c in range(3)]
    sw = sum(torch.outer(h[i] - mus[int(y[i])], h[i] - mus[int(y[i])]) for i in range(9)) / 9
    sb = sum(torch.outer(m - mu_g, m - mu_g) for m in mus) / 3
    nc1 = float(torch.trace(sw @ torch.linalg.pinv(sb, hermitian=True))) / 3
    out = rl.neural_collapse(h, y)
    assert math.isclose(float(out["nc1"]), nc1, rel_tol=1e-9)
    skew = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]], dtype=torch.float64)  # centred, unequal norms
    far = rl.neural_collapse(skew.repeat(2, 1), torch.arange(3).repeat(2))
    assert float(far["nc1"]) < 1e-12 and float(far["etf_distance"]) > 0.1


def test_noise_raises_nc1():
    means = simplex(3, 5)
    y = torch.arange(3).repeat(10)
    noise = torch.randn(30, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    small = rl.neural_collapse(means[y] + 0.1 * noise, y)["nc1"]
    large = rl.neural_collapse(means[y] + 1.0 * noise, y)["nc1"]
    assert 0 < small < large


def test_bad_inputs():
    with pytest.raises(ValueError, match="two classes"):
        rl.neural_collapse(torch.randn(4, 2), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="labels"):
        rl.neural_collapse(torch.randn(4, 2), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="features"):
        rl.neural_collapse(torch.randn(4), torch.zeros(4, dtype=torch.long))
