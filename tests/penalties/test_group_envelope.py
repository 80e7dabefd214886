"""Group envelope: s_k against its conjugate computed by brute force over supports (Fenchel-Young,
tight at the gradient) and against the sorted closed form; the prox against a numerical
minimization of ½‖z − w‖² + τR(z); the module against a loop over groups."""

import itertools
import math

import numpy as np
import pytest
import scipy.optimize
import torch

import reglab as rl
from reglab.functional import group_envelope, group_envelope_prox_, sparse_envelope

DT = torch.float64


def conjugate_brute_force(u, k):
    """s_k*(u) = sup_{|S| <= k, x_S} ⟨u_S, x_S⟩ − ½‖x_S‖² = ½ max_{|S| = k} ‖u_S‖², by enumeration."""
    n = u.numel()
    return 0.5 * max(float(u[list(s)].square().sum()) for s in itertools.combinations(range(n), k))


def closed_form(v, k):
    """Argyriou et al.: ½(Σ_{i<k−r} z_i² + (Σ_{i>=k−r} z_i)²/(r+1)) with the unique valid r."""
    z = sorted((abs(float(t.detach())) for t in v), reverse=True)
    for r in range(k):
        tail = sum(z[k - r - 1:]) / (r + 1)
        left = math.inf if k - r - 2 < 0 else z[k - r - 2]
        if left > tail >= z[k - r - 1]:
            return 0.5 * (sum(t * t for t in z[:k - r - 1]) + (r + 1) * tail * tail)
    raise AssertionError("no valid r")


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_envelope_is_the_biconjugate_by_brute_force_over_supports(k):
    g = torch.Generator().manual_seed(k)
    for _ in range(5):
        v = torch.randn(6, generator=g, dtype=DT)
        vv = v.clone().requires_grad_()
        s = sparse_envelope(vv, k)
        (grad,) = torch.autograd.grad(s, vv)
        s = s.detach()
        # Fenchel-Young: ⟨u, v⟩ − s*(u) <= s(v) for all u, with equality at u = ∇s(v)
        assert float(grad @ v) - conjugate_brute_force(grad, k) == pytest.approx(float(s), rel=1e-9)
        for _ in range(20):
            u = torch.randn(6, generator=g, dtype=DT) * 2
            assert float(u @ v) - conjugate_brute_force(u, k) <= float(s) + 1e-12
        assert float(s) == pytest.approx(closed_form(v, k), rel=1e-10)


def test_special_cases():
    v = torch.tensor([3.0, -1.0, 0.5, 0.0], dtype=DT)
    assert float(sparse_envelope(v, 1)) == pytest.approx(0.5 * 4.5**2)  # ½‖v‖₁²
    assert float(sparse_envelope(v, 3)) == pytest.approx(0.5 * float(v @ v))  # 3-sparse: ½‖v‖²
    assert float(sparse_envelope(v, 4)) == pytest.approx(0.5 * float(v @ v))


def penalty_by_loop(w, k, omega):
    v = torch.stack([omega * w[i].norm() for i in range(w.shape[0])])
    return closed_form(v, k)


@pytest.mark.parametrize("tau", [0.05, 0.3, 1.0])
@pytest.mark.parametrize("size_weighted", [False, True])
def test_prox_matches_a_numerical_minimization(tau, size_weighted):
    g = torch.Generator().manual_seed(7)
    w = torch.randn(5, 2, generator=g, dtype=DT)
    keep, k = 0.4, 2
    omega = math.sqrt(2) if size_weighted else 1.0

    def objective(z):
        zt = torch.tensor(z, dtype=DT).reshape(5, 2)
        return 0.5 * float((zt - w).square().sum()) + tau * penalty_by_loop(zt, k, omega)

    z = w.clone()
    group_envelope_prox_([z], tau, keep, rl.GroupBy.ROWS, size_weighted)
    best = scipy.optimize.minimize(objective, w.numpy().ravel(), method="Powell",
                                   options={"xtol": 1e-10, "ftol": 1e-14, "maxiter": 200000})
    assert objective(z.numpy().ravel()) <= best.fun + 1e-9
    np.testing.assert_allclose(z.numpy().ravel(), best.x, atol=2e-4)
    # no point nearby is better (it is the minimizer of a strongly convex objective)
    rng = np.random.default_rng(0)
    for _ in range(50):
        d = rng.normal(size=10) * 1e-3
        assert objective(z.numpy().ravel()) <= objective(z.numpy().ravel() + d) + 1e-12


def test_module_equals_a_loop_and_prox_reaches_exact_zero_groups():
    torch.manual_seed(0)
    lin = torch.nn.Linear(4, 6).double()
    conv = torch.nn.Conv2d(2, 3, 3).double()
    params = [lin.weight, lin.bias, conv.weight]
    bias = lin.bias.detach().clone()
    pen = rl.GroupEnvelope(params, strength=0.7, keep=0.5, groups=rl.GroupBy.COLUMNS)
    expected = 0.0
    for p in (lin.weight, conv.weight):
        cols = p.transpose(0, 1).reshape(p.shape[1], -1)
        expected += penalty_by_loop(cols, math.ceil(0.5 * p.shape[1]), math.sqrt(cols.shape[1]))
    assert float(pen().detach()) == pytest.approx(0.7 * expected, rel=1e-10)
    torch.testing.assert_close(pen(), 0.7 * group_envelope(params, 0.5, "columns"))
    with torch.no_grad():
        pen.prox_(10.0)
    zero = (lin.weight.norm(dim=0) == 0).sum()
    assert int(zero) >= 1 and int((lin.weight.norm(dim=0) > 0).sum()) >= 1
    torch.testing.assert_close(lin.bias.detach(), bias)  # 1-D tensors are not grouped


def test_gradient_passes_gradcheck():
    v = torch.tensor([2.0, -0.7, 0.4, 0.3, 1.1], dtype=DT, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: sparse_envelope(t, 2), (v,))


def test_bad_arguments():
    w = torch.ones(3, 2)
    with pytest.raises(ValueError, match="keep must be in"):
        rl.GroupEnvelope([w], keep=0.0)
    with pytest.raises(TypeError, match="size_weighted"):
        rl.GroupEnvelope([w], size_weighted="yes")
