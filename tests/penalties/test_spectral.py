import copy

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


def test_exact_value_equals_matrix_norm_loop():
    g = torch.Generator().manual_seed(0)
    ps = [torch.randn(*s, generator=g, dtype=torch.float64) for s in [(4, 3, 2, 2), (5,), (6, 4), (6, 4)]]
    expected = sum((torch.linalg.matrix_norm(p.reshape(p.shape[0], -1), ord=2) - 1.5) ** 2 for p in ps if p.ndim > 1)
    torch.testing.assert_close(RF.spectral(ps, target=1.5), expected, rtol=1e-12, atol=0)
    torch.testing.assert_close(rl.Spectral(ps, strength=2.0, target=1.5, exact=True)(), 2.0 * expected)


def test_power_iteration_converges_to_exact_sigma_max():
    ws = [gapped(7, 5, seed=0), gapped(4, 9, top=2.0, seed=1), torch.randn(3, 2, 2, 2, dtype=torch.float64)]
    pen = rl.Spectral(ws, strength=1.0, power_iterations=200)
    pen()
    exact = torch.stack([torch.linalg.matrix_norm(w.reshape(w.shape[0], -1), ord=2) for w in ws])
    torch.testing.assert_close(pen.sigma_max(), exact, rtol=1e-10, atol=0)
    expected = float(((exact - 1.0) ** 2).sum())
    assert float(pen()) == pytest.approx(expected, rel=1e-10)


def test_vectors_persist_across_calls_so_one_iteration_a_step_converges():
    w = torch.randn(30, 20, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    pen = rl.Spectral([w], strength=1.0, power_iterations=1, generator=torch.Generator().manual_seed(5))
    estimates = []
    for _ in range(300):
        pen()
        estimates.append(float(pen.sigma_max()[0]))
    assert all(b >= a - 1e-12 for a, b in zip(estimates, estimates[1:]))  # Rayleigh quotient rises
    assert estimates[-1] == pytest.approx(float(torch.linalg.matrix_norm(w, ord=2)), rel=1e-6)
    assert set(pen.state_dict()) == {"strength.step", "u_0", "v_0"}


def test_eval_mode_does_not_advance_the_vectors():
    w = torch.randn(6, 4, dtype=torch.float64)
    pen = rl.Spectral([w], strength=1.0).eval()
    before = copy.deepcopy(pen.state_dict())
    pen()
    assert torch.equal(before["u_0"], pen.u_0) and torch.equal(before["v_0"], pen.v_0)


def test_gradient_is_two_residual_u_vt_and_gradchecks():
    w = gapped(5, 4).requires_grad_()
    pen = rl.Spectral([w], strength=0.5, target=1.0, power_iterations=100)
    pen().backward()
    u, s, vh = torch.linalg.svd(w.detach())
    expected = 0.5 * 2 * (s[0] - 1.0) * torch.outer(u[:, 0], vh[0])
    torch.testing.assert_close(w.grad, expected, rtol=1e-8, atol=1e-10)
    pen.eval()  # fixed vectors: σ = uᵀWv is then a smooth function of W
    assert torch.autograd.gradcheck(lambda a: rl.Spectral.value(pen, [a]), (w,))
    assert torch.autograd.gradcheck(lambda a: RF.spectral([a], 0.5), (w,))


def test_bad_arguments():
    with pytest.raises(ValueError, match="target must be >= 0"):
        rl.Spectral([torch.ones(2, 2)], target=-1.0)
    with pytest.raises(ValueError, match="power_iterations must be >= 1"):
        rl.Spectral([torch.ones(2, 2)], power_iterations=0)
    with pytest.raises(TypeError, match="exact must be a bool"):
        rl.Spectral([torch.ones(2, 2)], exact=1)
    with pytest.raises(ValueError, match="selects no matrices"):
        rl.Spectral([torch.ones(2)])
