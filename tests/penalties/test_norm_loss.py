import pytest
import torch
from torch import nn

import reglab as rl
from reglab import functional as RF


def reference(params):
    total = torch.zeros((), dtype=torch.float64)
    for p in params:
        if p.ndim < 2:
            continue
        for i in range(p.shape[0]):
            total = total + (1 - torch.sqrt((p[i] ** 2).sum())) ** 2
    return total


def tensors(seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(*s, generator=g, dtype=torch.float64) for s in [(4, 5), (7,), (3, 2, 3, 3)]]


def test_value_equals_per_row_loop_over_linear_and_conv():
    ps = tensors()
    torch.testing.assert_close(RF.norm_loss(ps), reference(ps))
    torch.testing.assert_close(rl.NormLoss(ps, strength=0.2)(), 0.2 * reference(ps))


def test_gradcheck_float64():
    ps = [p.clone().requires_grad_() for p in tensors(1) if p.ndim >= 2]
    assert torch.autograd.gradcheck(lambda *xs: RF.norm_loss(list(xs)), ps)


def test_zero_on_unit_rows_and_gradient_descent_reaches_the_sphere():
    w = nn.Parameter(torch.randn(6, 4, dtype=torch.float64) * 3)
    unit = w.detach() / w.detach().norm(dim=1, keepdim=True)
    assert float(RF.norm_loss([unit])) == pytest.approx(0.0, abs=1e-24)
    direction = unit.clone()
    pen = rl.NormLoss([w], strength=1.0)
    opt = torch.optim.SGD([w], lr=0.1)
    for _ in range(200):
        opt.zero_grad()
        pen().backward()
        opt.step()
    torch.testing.assert_close(w.detach().norm(dim=1), torch.ones(6, dtype=torch.float64))
    torch.testing.assert_close(w.detach(), direction)  # directions are left alone


def test_refuses_a_selection_without_matrices():
    with pytest.raises(ValueError, match="matrices"):
        rl.NormLoss([torch.ones(3)])
