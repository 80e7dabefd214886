import pytest
import torch

import reglab as rl
from reglab import functional as RF


def brute_force(params):
    total = torch.zeros((), dtype=torch.float64)
    for p in params:
        if p.ndim < 2:
            continue
        rows = p.reshape(p.shape[0], -1)
        for i in range(rows.shape[0]):
            for j in range(rows.shape[0]):
                if i != j:
                    total = total + torch.dot(rows[i], rows[j]) ** 2
    return total


def params(seed=0):
    g = torch.Generator().manual_seed(seed)
    shapes = [(3, 2, 2, 2), (4,), (6, 3), (6, 3), (2, 5)]
    return [torch.randn(*s, generator=g, dtype=torch.float64, requires_grad=True) for s in shapes]


def test_value_equals_brute_force_pair_sum():
    ps = params()
    torch.testing.assert_close(RF.offdiag_orthogonal(ps), brute_force(ps), rtol=1e-12, atol=0)


def test_row_norms_are_free_but_correlation_is_not():
    q, _ = torch.linalg.qr(torch.randn(5, 5, dtype=torch.float64))
    scaled = q * torch.tensor([1.0, 2.0, 3.0, 0.5, 7.0], dtype=torch.float64)[:, None]
    assert float(RF.offdiag_orthogonal([scaled])) < 1e-22
    mixed = torch.tensor([[1.0, 0.0], [0.6, 0.8]], dtype=torch.float64)   # unit rows, <r0, r1> = 0.6
    assert float(RF.offdiag_orthogonal([mixed])) == pytest.approx(2 * 0.36)


def test_gradient_closed_form_and_gradcheck():
    ps = params(1)
    w = ps[2]
    rl.OffDiagonalOrthogonal([w], strength=0.5)().backward()
    gram = w.detach() @ w.detach().T
    expected = 0.5 * 4 * (gram * (1 - torch.eye(6, dtype=torch.float64))) @ w.detach()
    torch.testing.assert_close(w.grad, expected)
    assert torch.autograd.gradcheck(lambda a, b: RF.offdiag_orthogonal([a, b]), (ps[0], ps[4]))
