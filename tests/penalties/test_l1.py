import pytest
import torch
from torch import nn

import reglab as rl
from reglab import functional as RF


def test_value_equals_per_tensor_loop_in_float64():
    g = torch.Generator().manual_seed(0)
    params = [torch.randn(*s, generator=g, dtype=torch.float64) for s in [(3, 4), (7,), (2, 3, 5)]]
    expected = sum(p.abs().sum() for p in params)
    torch.testing.assert_close(RF.l1(params), expected, rtol=1e-14, atol=0)


def test_gradient_is_strength_times_sign_with_zero_at_zero_and_passes_gradcheck():
    w = torch.tensor([[1.5, -2.0], [0.0, 0.3]], dtype=torch.float64, requires_grad=True)
    rl.L1([w], strength=0.3)().backward()
    torch.testing.assert_close(w.grad, 0.3 * torch.tensor([[1.0, -1.0], [0.0, 1.0]], dtype=torch.float64))
    v = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a: RF.l1([a]), (v,))


def test_module_selection_leaves_out_biases_and_norm_layers():
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, 2)).double()
    expected = 0.1 * (model[0].weight.abs().sum() + model[2].weight.abs().sum())
    torch.testing.assert_close(rl.L1(model, strength=0.1)(), expected)


def test_scheduled_strength_and_bad_arguments():
    pen = rl.L1([torch.ones(2)], strength=rl.schedules.late(2.0, after=1))
    assert [float(pen()) for _ in range(3)] == pytest.approx([0.0, 4.0, 4.0])
    with pytest.raises(ValueError, match="strength must be >= 0, got -1"):
        rl.L1([torch.ones(1)], strength=-1)
    with pytest.raises(ValueError, match="selects no parameters"):
        rl.L1(nn.ReLU())


def test_sgd_with_l1_shrinks_but_does_not_zero():
    """The penalty form oscillates around zero instead of reaching it (see ProximalL1)."""
    w = torch.nn.Parameter(torch.tensor([0.05, -0.03], dtype=torch.float64))
    pen, opt = rl.L1([w], strength=1.0), torch.optim.SGD([w], lr=0.01)
    for _ in range(50):
        opt.zero_grad()
        pen().backward()
        opt.step()
    assert w.abs().max() <= 0.01 + 1e-12 and bool((w != 0).all())


def test_module_with_strength_folded_in_equals_strength_times_the_loop_value_and_gradient():
    g = torch.Generator().manual_seed(5)
    shapes = [(3, 4), (7,), (2, 3, 5)]
    a = [torch.randn(*s, generator=g, dtype=torch.float64, requires_grad=True) for s in shapes]
    b = [p.detach().clone().requires_grad_() for p in a]
    for _ in range(2):  # the second call accumulates into existing gradients
        fast, slow = rl.L1(a, strength=0.37)(), 0.37 * sum(p.abs().sum() for p in b)
        torch.testing.assert_close(fast, slow, rtol=1e-13, atol=0)
        fast.backward()
        slow.backward()
    for x, y in zip(a, b):
        torch.testing.assert_close(x.grad, y.grad, rtol=1e-13, atol=0)
