import copy
import itertools

import pytest
import torch

import reglab as rl
from reglab import functional as RF


def gapped(rows, cols, top=3.0, seed=0):
    """A random matrix whose two largest singular values are top and 1 (a clear gap)."""
    g = torch.Generator().manual_seed(seed)
    u, _ = torch.linalg.qr(torch.randn(rows, rows, generator=g, dtype=torch.float64))
    v, _ = torch.linalg.qr(torch.randn(cols, cols, generator=g, dtype=torch.float64))
    k = min(rows, cols)
    s = torch.linspace(1.0, 0.1, k, dtype=torch.float64)
    s[0] = top
    return (u[:, :k] * s) @ v[:, :k].T


def reference(ps, target=1.0, k=2, bias=True):
    """The paper's sum written as a plain loop: (σ_max(W)^k − τ^k)² per matrix, ‖b‖^(2k) per vector."""
    total = 0.0
    for p in ps:
        if p.ndim > 1:
            total = total + (torch.linalg.svdvals(p.reshape(p.shape[0], -1))[0] ** k - target**k) ** 2
        elif bias:
            total = total + torch.sqrt((p * p).sum()) ** (2 * k)
    return total


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("bias", [True, False])
def test_exact_value_equals_svd_loop(k, bias):
    g = torch.Generator().manual_seed(0)
    shapes = [(4, 3, 2, 2), (5,), (6, 4), (6, 4), (4,), (5,)]
    ps = [torch.randn(*s, generator=g, dtype=torch.float64) for s in shapes]
    expected = reference(ps, 1.5, k, bias)
    torch.testing.assert_close(RF.spectral(ps, target=1.5, exponent=k, bias=bias), expected, rtol=1e-12, atol=0)
    pen = rl.Spectral(ps, strength=2.0, target=1.5, exact=True, exponent=k, bias=bias)
    torch.testing.assert_close(pen(), 2.0 * expected, rtol=1e-12, atol=0)


def test_defaults_are_the_papers_k_2_with_biases_toward_zero():
    w = torch.diag(torch.tensor([3.0, 1.0, 0.5], dtype=torch.float64)).requires_grad_()
    b = torch.tensor([0.5, -0.5, 1.0], dtype=torch.float64, requires_grad=True)
    for exact in (False, True):
        pen = rl.Spectral([w, b], strength=1.0, exact=exact)
        value = pen()
        assert float(value.detach()) == pytest.approx((3.0**2 - 1) ** 2 + 1.5**2, rel=1e-12)  # 64 + 2.25
        w.grad = b.grad = None
        value.backward()
        dw = torch.zeros(3, 3, dtype=torch.float64)
        dw[0, 0] = 2 * (3.0**2 - 1) * 2 * 3.0  # d/dσ (σ² − 1)² = 2(σ² − 1)·2σ along u vᵀ = e₁e₁ᵀ
        torch.testing.assert_close(w.grad, dw, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(b.grad, 2 * 1.5 * 2 * b.detach(), rtol=1e-12, atol=0)  # d(‖b‖²)²/db
    assert float(rl.Spectral([w.detach(), torch.zeros(3)], strength=1.0, exponent=1, bias=False)()) == pytest.approx(4.0)


def test_a_module_brings_the_biases_of_its_selected_layers_only():
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(2, 3, 3), torch.nn.BatchNorm2d(3), torch.nn.Flatten(),
        torch.nn.Linear(12, 4), torch.nn.LayerNorm(4), torch.nn.Linear(4, 2, bias=False),
    ).double()
    pen = rl.Spectral(model, strength=1.0, exact=True)
    assert pen.selection.names() == ("0.weight", "0.bias", "3.weight", "3.bias", "5.weight")
    assert rl.Spectral(model, exact=True, bias=False).selection.names() == ("0.weight", "3.weight", "5.weight")
    expected = reference([model[0].weight, model[0].bias, model[3].weight, model[3].bias, model[5].weight])
    torch.testing.assert_close(pen(), expected, rtol=1e-12, atol=0)


def test_power_iteration_and_exact_paths_agree_in_float64():
    ws = [gapped(7, 5, seed=0), torch.randn(7, dtype=torch.float64), gapped(4, 9, top=2.0, seed=1),
          torch.randn(3, 2, 2, 2, dtype=torch.float64), torch.randn(4, dtype=torch.float64)]
    ws = [w.requires_grad_() for w in ws]
    grads = []
    for exact in (False, True):
        pen = rl.Spectral(ws, strength=0.3, target=0.8, exponent=2, power_iterations=300, exact=exact)
        value = pen()
        grads.append((value, torch.autograd.grad(value, ws)))
    (vp, gp), (ve, ge) = grads
    torch.testing.assert_close(vp, ve, rtol=1e-10, atol=0)
    for a, b in zip(gp, ge):
        torch.testing.assert_close(a, b, rtol=1e-7, atol=1e-9)


def test_power_iteration_converges_to_exact_sigma_max():
    ws = [gapped(7, 5, seed=0), gapped(4, 9, top=2.0, seed=1), torch.randn(3, 2, 2, 2, dtype=torch.float64)]
    pen = rl.Spectral(ws, strength=1.0, power_iterations=200)
    pen()
    exact = torch.stack([torch.linalg.matrix_norm(w.reshape(w.shape[0], -1), ord=2) for w in ws])
    torch.testing.assert_close(pen.sigma_max(), exact, rtol=1e-10, atol=0)
    expected = float(((exact**2 - 1.0) ** 2).sum())
    assert float(pen()) == pytest.approx(expected, rel=1e-10)


def test_vectors_persist_across_calls_so_one_iteration_a_step_converges():
    w = torch.randn(30, 20, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    pen = rl.Spectral([w], strength=1.0, power_iterations=1, generator=torch.Generator().manual_seed(5))
    estimates = []
    for _ in range(300):
        pen()
        estimates.append(float(pen.sigma_max()[0]))
    assert all(b >= a - 1e-12 for a, b in itertools.pairwise(estimates))  # Rayleigh quotient rises
    assert estimates[-1] == pytest.approx(float(torch.linalg.matrix_norm(w, ord=2)), rel=1e-6)
    assert set(pen.state_dict()) == {"strength.step", "u_0", "v_0"}


def test_eval_mode_does_not_advance_the_vectors():
    w = torch.randn(6, 4, dtype=torch.float64)
    pen = rl.Spectral([w], strength=1.0).eval()
    before = copy.deepcopy(pen.state_dict())
    pen()
    assert torch.equal(before["u_0"], pen.u_0) and torch.equal(before["v_0"], pen.v_0)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_gradient_is_2k_sigma_residual_u_vt_and_gradchecks(k):
    w = gapped(5, 4).requires_grad_()
    b = torch.randn(5, dtype=torch.float64, generator=torch.Generator().manual_seed(2), requires_grad=True)
    pen = rl.Spectral([w, b], strength=0.5, target=1.0, power_iterations=100, exponent=k)
    pen().backward()
    u, s, vh = torch.linalg.svd(w.detach())
    expected = 0.5 * 2 * (s[0] ** k - 1.0) * k * s[0] ** (k - 1) * torch.outer(u[:, 0], vh[0])
    torch.testing.assert_close(w.grad, expected, rtol=1e-8, atol=1e-10)
    torch.testing.assert_close(b.grad, 0.5 * 2 * k * b.detach().square().sum() ** (k - 1) * b.detach())
    pen.eval()  # fixed vectors: σ = uᵀWv is then a smooth function of W
    assert torch.autograd.gradcheck(lambda a, c: rl.Spectral.value(pen, [a, c]), (w, b))
    assert torch.autograd.gradcheck(lambda a, c: RF.spectral([a, c], 0.5, exponent=k), (w, b))
    zero = torch.zeros(5, dtype=torch.float64, requires_grad=True)  # a zero bias (a common init) has gradient 0
    assert torch.autograd.gradcheck(lambda a, c: RF.spectral([a, c], 0.5, exponent=k), (w, zero))


def test_bad_arguments():
    with pytest.raises(ValueError, match="target must be >= 0"):
        rl.Spectral([torch.ones(2, 2)], target=-1.0)
    with pytest.raises(ValueError, match="power_iterations must be >= 1"):
        rl.Spectral([torch.ones(2, 2)], power_iterations=0)
    with pytest.raises(TypeError, match="exact must be a bool"):
        rl.Spectral([torch.ones(2, 2)], exact=1)
    with pytest.raises(ValueError, match="selects no matrices"):
        rl.Spectral([torch.ones(2)])
    with pytest.raises(ValueError, match="exponent must be >= 1"):
        rl.Spectral([torch.ones(2, 2)], exponent=0)
    with pytest.raises(TypeError, match="exponent"):
        rl.Spectral([torch.ones(2, 2)], exponent=2.5)
    with pytest.raises(TypeError, match="bias must be a bool"):
        rl.Spectral([torch.ones(2, 2)], bias=1)
