"""Jacobian norm (reglab.activity.jacobian_norm): exact Jacobian by jacrev, unbiased estimator."""

import math

import torch
from torch import nn

import reglab as rl


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


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
