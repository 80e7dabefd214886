"""FLOPS (reglab.activity.flops): a plain loop, gradcheck, the quadratic warm-up of λ."""

import math

import pytest
import torch
from torch import nn

import reglab as rl
from reglab._core.binding import SetUp, bind
from reglab.activity import activation_l1, flops
from reglab.bench.models import ModelSpec, build_model
from reglab.bench.recipes import load_recipe


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_flops_matches_a_plain_loop_and_differs_from_l1_on_uneven_use():
    a = torch.rand(7, 4, dtype=torch.float64, generator=gen())
    loop = sum((sum(abs(float(a[i, j])) for i in range(7)) / 7) ** 2 for j in range(4))
    assert math.isclose(float(flops(a)), loop, rel_tol=1e-12)
    assert math.isclose(float(activation_l1(a)), float(a.abs().sum()) / 28, rel_tol=1e-12)
    even, uneven = torch.eye(4, dtype=torch.float64), torch.zeros(4, 4, dtype=torch.float64)
    uneven[:, 0] = 1.0  # same L1 mass, all on one feature
    assert activation_l1(even) == activation_l1(uneven)
    assert flops(even) < flops(uneven)


def test_flops_gradient_in_float64():
    a = torch.randn(5, 3, dtype=torch.float64, generator=gen(), requires_grad=True)
    assert torch.autograd.gradcheck(flops, (a,))


def test_quadratic_warmup_schedule():
    s = rl.quadratic_warmup(2.0, steps=4)
    assert [s(t) for t in range(6)] == [0.0, 0.125, 0.5, 1.125, 2.0, 2.0]
    assert s.bounds() == (0.0, 2.0)
    assert rl.quadratic_warmup(2.0, steps=0)(0) == 2.0
    with pytest.raises(ValueError, match="steps"):
        rl.quadratic_warmup(1.0, steps=-1)
    with pytest.raises(ValueError, match="strength must be >= 0 at every step"):
        rl.FLOPS(nn.Linear(2, 2), modules="", strength=rl.quadratic_warmup(-1.0, steps=3))


def test_a_recipe_file_gives_the_papers_quadratic_warmup():
    """flops-warmup.yaml: λ_t = 0.01 · min(t / T, 1)² with T = 20% of the run's steps."""
    (method,) = load_recipe("flops-warmup").methods
    assert method.name == "flops"
    model = build_model(ModelSpec(width=8, depth=2), (5,), 3).double()
    pen = bind(method.name, method.args, SetUp(model, total_steps=50))
    assert isinstance(pen.strength.schedule, rl.schedules.QuadraticWarmup)
    inp = torch.randn(6, 5, dtype=torch.float64, generator=gen())
    warmup = 10  # 20% of 50 steps
    for t in range(14):
        with torch.no_grad():  # before the step's forward, which the penalty then reads
            feats = model.features(inp)
        model(inp)
        expected = 0.01 * min(t / warmup, 1.0) ** 2 * float(flops(feats))
        assert math.isclose(pen().item(), expected, rel_tol=1e-12, abs_tol=1e-300)
    assert int(pen.state_dict()["strength.step"]) == 14


def test_the_warmup_schedule_written_as_data_is_checked():
    model = build_model(ModelSpec(width=8, depth=2), (5,), 3)
    bad = {"modules": ["features.penultimate"],
           "strength": {"schedule": "quadratic_warmup", "value": 0.01, "step": 3}}
    with pytest.raises(ValueError, match="unknown key 'step'"):
        bind("flops", bad, SetUp(model, total_steps=50))
    typo = {**bad, "strength": {"schedule": "quadratic_warmpu", "value": 0.01, "steps": 3}}
    with pytest.raises(ValueError, match="did you mean 'quadratic_warmup'"):
        bind("flops", typo, SetUp(model, total_steps=50))
