"""Shared penalty plumbing: non-finite parameters are refused with the parameter's name."""

import pytest
import torch
from torch import nn

import reglab as rl


def test_non_finite_parameter_at_construction_names_it():
    model = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 2))
    with torch.no_grad():
        model[1].weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"params must hold finite values: parameter '1.weight'"):
        rl.L1(model, strength=0.1)


@pytest.mark.parametrize("cls", [rl.L1, rl.L2, rl.ElasticNet, rl.Nuclear, rl.SoftOrthogonal, rl.L2Init])
def test_parameter_turning_non_finite_later_raises_at_forward(cls):
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2)).double()
    pen = cls(model, strength=0.1)
    pen()
    with torch.no_grad():
        model[1].weight[1, 0] = float("inf")
    with pytest.raises(ValueError, match=r"parameter '1.weight' has non-finite values"):
        pen()


def test_overflow_with_finite_parameters_is_reported_as_overflow():
    w = torch.full((4, 4), 1e30)
    with pytest.raises(ValueError, match="overflowed torch.float32"):
        rl.L2([w], strength=1.0)()


def test_zero_strength_returns_a_zero_in_the_parameters_dtype():
    w = torch.ones(2, 2, dtype=torch.float64, requires_grad=True)
    out = rl.L1([w], strength=0.0)()
    assert out.dtype == torch.float64 and float(out) == 0.0
