"""Activation L1 (reglab.activity.activation_l1): a plain loop over modules and elements."""

import math

import torch
from torch import nn

import reglab as rl
from reglab.activity import activation_l1


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_activation_l1_is_the_mean_absolute_entry():
    a = torch.randn(7, 4, 3, dtype=torch.float64, generator=gen())
    loop = sum(abs(float(v)) for v in a.flatten()) / a.numel()
    assert math.isclose(float(activation_l1(a)), loop, rel_tol=1e-12)


def test_penalty_sums_the_means_of_each_hooked_module():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 2)).double()
    inp = torch.randn(6, 3, dtype=torch.float64, generator=gen())
    pen = rl.ActivationL1(model, modules=["0", "2"], strength=0.25)
    with torch.no_grad():  # before the step's forward: a run under no_grad is recorded as silent
        h = model[0](inp)
        out = model[2](model[1](h))
    model(inp)
    loop = sum(abs(float(v)) for v in h.flatten()) / h.numel() + sum(
        abs(float(v)) for v in out.flatten()) / out.numel()
    assert math.isclose(pen().item(), 0.25 * loop, rel_tol=1e-12)
