import torch

import reglab as rl
from reglab import functional as RF


def brute_force(params):
    """Per matrix, with the smaller Gram matrix written out by hand."""
    total = torch.zeros((), dtype=torch.float64)
    for p in params:
        if p.ndim < 2:
            continue
        w = p.reshape(p.shape[0], -1)
        gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
        for i in range(gram.shape[0]):
            for j in range(gram.shape[1]):
                total = total + (gram[i, j] - (1.0 if i == j else 0.0)) ** 2
    return total


def params(seed=0):
    g = torch.Generator().manual_seed(seed)
    shapes = [(3, 2, 2, 2), (4,), (6, 3), (6, 3), (2, 5)]
    return [torch.randn(*s, generator=g, dtype=torch.float64, requires_grad=True) for s in shapes]


def test_value_equals_brute_force_for_wide_tall_and_conv():
    ps = params()
    torch.testing.assert_close(RF.soft_orthogonal(ps), brute_force(ps), rtol=1e-12, atol=0)


def test_orthonormal_rows_or_columns_give_zero_and_groups_one_is_the_same():
    q, _ = torch.linalg.qr(torch.randn(7, 7, dtype=torch.float64))
    assert float(RF.soft_orthogonal([q[:3], q[:, :3]])) < 1e-24   # wide rows, tall columns
    ps = params(1)
    torch.testing.assert_close(RF.group_orthogonal(ps, groups=1), RF.soft_orthogonal(ps))


def test_gradcheck_and_gradient_closed_form():
    ps = params(2)
    assert torch.autograd.gradcheck(lambda a, b, c: RF.soft_orthogonal([a, b, c]), (ps[0], ps[2], ps[4]))
    w = ps[4]  # wide: rows Gram
    rl.SoftOrthogonal([w], strength=0.5)().backward()
    expected = 0.5 * 4 * (w.detach() @ w.detach().T - torch.eye(2, dtype=torch.float64)) @ w.detach()
    torch.testing.assert_close(w.grad, expected)
