"""Isotropy / IsoScore* (reglab.activity.isotropy): the IsoScore algorithm step by step, closed forms."""

import math

import numpy as np
import pytest
import torch
from torch import nn

import reglab as rl
from reglab.activity import isoscore


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def isoscore_steps(z: np.ndarray, zeta: float = 0.0, c0: np.ndarray | None = None) -> float:
    """IsoScore as Rudman et al. list it: PCA, variances, normalize, defect, fraction, rescale."""
    n, d = z.shape
    centered = z - z.mean(0)
    cov = centered.T @ centered / (n - 1)
    cov = (1 - zeta) * cov + zeta * (np.eye(d) if c0 is None else c0)
    _, vecs = np.linalg.eigh(cov)
    variances = np.array([vecs[:, j] @ cov @ vecs[:, j] for j in range(d)])  # of the PCA coordinates
    normalized = math.sqrt(d) * variances / np.linalg.norm(variances)
    defect = np.linalg.norm(normalized - 1) / math.sqrt(2 * (d - math.sqrt(d)))
    fraction = (d - defect**2 * (d - math.sqrt(d))) ** 2 / d**2
    return (d * fraction - 1) / (d - 1)


@pytest.mark.parametrize("zeta", [0.0, 0.3])
def test_isoscore_follows_the_papers_steps(zeta):
    z = torch.randn(9, 5, dtype=torch.float64, generator=gen()) @ torch.randn(5, 5, dtype=torch.float64, generator=gen(1))
    c0 = np.cov(np.random.default_rng(0).normal(size=(50, 5)).T)
    assert math.isclose(float(isoscore(z, zeta)), isoscore_steps(z.numpy(), zeta), abs_tol=1e-12)
    assert math.isclose(float(isoscore(z, zeta, torch.from_numpy(c0))), isoscore_steps(z.numpy(), zeta, c0),
                        abs_tol=1e-12)


@pytest.mark.parametrize("k", [1, 2, 5, 6])
def test_k_even_directions_of_d_give_k_minus_1_over_d_minus_1(k):
    eye = torch.eye(6, dtype=torch.float64)
    rot = torch.linalg.qr(torch.randn(6, 6, dtype=torch.float64, generator=gen()))[0]
    z = torch.cat([eye[:k], -eye[:k]]) @ rot  # rotation invariant
    assert math.isclose(float(isoscore(z)), (k - 1) / 5, abs_tol=1e-9)


def test_isotropic_gaussian_scores_near_one_and_full_shrinkage_to_identity_is_one():
    z = torch.randn(20000, 8, dtype=torch.float64, generator=gen())
    assert float(isoscore(z)) > 0.99
    line = torch.randn(30, 1, dtype=torch.float64, generator=gen()) * torch.ones(1, 8, dtype=torch.float64)
    assert abs(float(isoscore(line))) < 1e-9
    assert math.isclose(float(isoscore(line, zeta=1.0)), 1.0, abs_tol=1e-12)


def test_isoscore_gradient_in_float64():
    z = torch.randn(10, 4, dtype=torch.float64, generator=gen(), requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: isoscore(t, 0.2), (z,))


def test_penalty_value_sign_and_checks():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6)).double()
    inp = torch.randn(12, 4, dtype=torch.float64, generator=gen())
    pen = rl.Isotropy(model, modules="0", strength=0.5)
    neg = rl.Isotropy(model, modules="0", strength=-0.5, zeta=0.5, shrinkage=2 * torch.eye(6, dtype=torch.float64))
    out = model(inp).detach()
    torch.testing.assert_close(pen(), 0.5 * (1 - isoscore(out)))
    torch.testing.assert_close(neg(), -0.5 * (1 - isoscore(out, 0.5, 2 * torch.eye(6, dtype=torch.float64))))
    assert "shrinkage" in dict(neg.state_dict())
    with pytest.raises(ValueError, match="zeta must be"):
        rl.Isotropy(model, modules="0", zeta=1.5)
    with pytest.raises(ValueError, match="shrinkage must be a symmetric square matrix"):
        rl.Isotropy(model, modules="0", zeta=0.5, shrinkage=torch.ones(2, 3))
    bad = rl.Isotropy(model, modules="0", zeta=0.5, shrinkage=torch.eye(3, dtype=torch.float64))
    model(inp)
    with pytest.raises(ValueError, match="shrinkage must be a \\(6, 6\\) matrix"):
        bad()


def test_training_with_positive_strength_raises_isotropy():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 6, bias=False)).double()
    with torch.no_grad():
        model[0].weight.copy_(torch.diag(torch.tensor([3.0, 1.0, 0.3, 0.1, 0.1, 0.1], dtype=torch.float64)))
    inp = torch.randn(64, 6, dtype=torch.float64, generator=gen())
    pen = rl.Isotropy(model, modules="0", strength=1.0)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    before = float(isoscore(model(inp).detach()))
    pen()  # drop the activation recorded above
    for _ in range(150):
        opt.zero_grad()
        model(inp)
        pen().backward()
        opt.step()
    assert before < 0.1 and float(isoscore(model(inp).detach())) > 0.8
