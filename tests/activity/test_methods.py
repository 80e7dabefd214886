"""Reference tests of the activity methods: closed forms, plain loops and float64 eigenvalues."""

import math

import pytest
import torch
from torch import nn

import reglab as rl
from reglab.activity import activation_l1, coding_rate, flops, vne


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# activation-l1 and flops ------------------------------------------------------------------
def test_flops_matches_a_plain_loop_and_differs_from_l1_on_uneven_use():
    a = torch.rand(7, 4, dtype=torch.float64, generator=gen())
    loop = sum((sum(abs(float(a[i, j])) for i in range(7)) / 7) ** 2 for j in range(4))
    assert math.isclose(float(flops(a)), loop, rel_tol=1e-12)
    assert math.isclose(float(activation_l1(a)), float(a.abs().sum()) / 28, rel_tol=1e-12)
    even, uneven = torch.eye(4, dtype=torch.float64), torch.zeros(4, 4, dtype=torch.float64)
    uneven[:, 0] = 1.0  # same L1 mass, all on one feature
    assert activation_l1(even) == activation_l1(uneven)
    assert flops(even) < flops(uneven)


def test_flops_gradient_in_float64():
    a = torch.randn(5, 3, dtype=torch.float64, generator=gen(), requires_grad=True)
    assert torch.autograd.gradcheck(flops, (a,))


def test_quadratic_warmup_schedule():
    s = rl.quadratic_warmup(2.0, steps=4)
    assert [s(t) for t in range(6)] == [0.0, 0.125, 0.5, 1.125, 2.0, 2.0]
    assert s.bounds() == (0.0, 2.0)
    assert rl.quadratic_warmup(2.0, steps=0)(0) == 2.0
    with pytest.raises(ValueError, match="steps"):
        rl.quadratic_warmup(1.0, steps=-1)
    with pytest.raises(ValueError, match="strength must be >= 0 at every step"):
        rl.FLOPS(nn.Linear(2, 2), modules="", strength=rl.quadratic_warmup(-1.0, steps=3))


# vne ----------------------------------------------------------------------------------------
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


# coding-rate ----------------------------------------------------------------------------------
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


# jacobian-norm ----------------------------------------------------------------------------------
def small_mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 6), nn.Tanh(), nn.Linear(6, 4)).double()


def exact_reference(model: nn.Module, inp: torch.Tensor) -> torch.Tensor:
    """½ mean_i ‖J_i‖²_F with J_i from torch.func.jacrev, one example at a time."""
    jac = torch.stack([torch.func.jacrev(model)(row) for row in inp])  # (N, out, in)
    return 0.5 * jac.square().sum() / inp.shape[0]


def test_jacobian_norm_exact_equals_jacrev_and_its_gradient_too():
    model, ref = small_mlp(), small_mlp()
    inp = torch.randn(5, 3, dtype=torch.float64, generator=gen())
    pen = rl.JacobianNorm(model, modules="", strength=1.0, projections=-1)
    model(inp)
    value = pen()
    expected = exact_reference(ref, inp)
    torch.testing.assert_close(value, expected)
    value.backward()
    expected.backward()
    for p, q in zip(model.parameters(), ref.parameters()):
        torch.testing.assert_close(p.grad, q.grad)
    assert inp.grad is None  # the data was not modified in place


def test_jacobian_norm_estimator_is_unbiased():
    model = small_mlp()
    inp = torch.randn(5, 3, dtype=torch.float64, generator=gen())
    exact = float(exact_reference(model, inp).detach())
    pen = rl.JacobianNorm(model, modules="", strength=1.0, projections=2, generator=gen(7))
    draws = []
    for _ in range(400):
        model(inp)
        draws.append(float(pen().detach()))
    d = torch.tensor(draws, dtype=torch.float64)
    se = float(d.std()) / math.sqrt(len(draws))
    assert abs(float(d.mean()) - exact) < 4 * se
    assert float(d.std()) > 0  # it is random


def test_jacobian_norm_on_an_inner_module_and_linear_closed_form():
    model = small_mlp()
    pen = rl.JacobianNorm(model, modules="2", strength=3.0, projections=-1)
    model(torch.randn(4, 3, dtype=torch.float64, generator=gen()))
    torch.testing.assert_close(pen(), 1.5 * model[2].weight.square().sum())
