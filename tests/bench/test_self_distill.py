"""self-distill-digits: views, the distance loss, the EMA teacher, the probe, short runs."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from reglab.bench.recipes import load_recipe, parse_recipe
from reglab.bench.runs import Settings, Status, resolve
from reglab.bench.tasks import get_task
from reglab.bench.tasks.self_distill import (
    DistillLoss,
    SelfDistillOptions,
    ema_update,
    probe,
    views,
)
from reglab.bench.train import execute


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_views_mask_at_the_rate_and_add_noise_of_the_given_scale():
    x = torch.ones(200, 1, 8, 8, dtype=torch.float64)
    assert torch.equal(views(x, 0.0, 0.0, gen()), x)
    masked = views(x, 0.0, 0.3, gen())
    rate = float((masked == 0).double().mean())  # 12800 draws: sd of the rate about 0.004
    assert abs(rate - 0.3) < 0.02
    noisy = views(torch.zeros(200, 64, dtype=torch.float64), 0.5, 0.0, gen())
    assert abs(float(noisy.std()) - 0.5) < 0.02
    assert torch.equal(views(x, 0.5, 0.3, gen(1)), views(x, 0.5, 0.3, gen(1)))  # seeded


def test_distill_loss_is_two_minus_twice_the_cosine():
    out = torch.randn(5, 4, dtype=torch.float64, generator=gen())
    target = torch.nn.functional.normalize(torch.randn(5, 4, dtype=torch.float64, generator=gen(1)), dim=1)
    loop = 0.0
    for i in range(5):
        cos = float(out[i] @ target[i]) / float(out[i].norm())
        loop += (2.0 - 2.0 * cos) / 5
    assert math.isclose(float(DistillLoss()(out, target)), loop, rel_tol=1e-12)


def test_ema_update_is_the_convex_combination():
    torch.manual_seed(0)
    student, teacher = nn.Linear(3, 2), nn.Linear(3, 2)
    before = [p.detach().clone() for p in teacher.parameters()]
    ema_update(teacher, student, 0.9)
    for t, b, s in zip(teacher.parameters(), before, student.parameters()):
        torch.testing.assert_close(t, 0.9 * b + 0.1 * s)


def test_probe_on_constructed_features():
    """One-hot features of 4 balanced classes: rank 4, the class means classify perfectly."""
    y = torch.arange(4).repeat(10)
    z = torch.eye(4, dtype=torch.float64)[y]
    out = probe(nn.Identity(), z, y, z, y, 4)
    assert out["train_acc"] == out["test_acc"] == 1.0
    assert abs(out["feature_rank"] - 4.0) < 1e-4


def test_options_are_checked():
    with pytest.raises(ValueError, match="mask"):
        SelfDistillOptions(mask=1.0)
    with pytest.raises(ValueError, match="momentum"):
        get_task("self-distill-digits").options({"momentum": 1.5})


def _run(recipe: str):
    config = resolve("self-distill-digits", load_recipe(recipe), seed=0,
                     settings=[Settings(budget={"steps": 40, "eval_every": 20})])
    return execute(config)


def test_short_runs_collapse_without_the_coding_rate_and_not_with_it():
    plain, cr = _run("none"), _run("coding-rate")
    assert plain.status is Status.DONE and cr.status is Status.DONE, (plain.message, cr.message)
    assert [s for s, k, _ in plain.curves if k == "feature_rank"] == [0, 20, 40]
    start = [v for s, k, v in plain.curves if k == "feature_rank" and s == 0]
    assert start == [v for s, k, v in cr.curves if k == "feature_rank" and s == 0]  # same init
    assert plain.metrics["feature_rank"] < start[0] < cr.metrics["feature_rank"]
    assert plain.metrics["step_loss"] >= 0 > cr.metrics["step_loss"]  # −γ·R enters the loss


def test_a_sweep_checks_the_task_before_running_it():
    from reglab.bench.sweep import check_configs

    good = resolve("self-distill-digits", load_recipe("coding-rate"), seed=0,
                   settings=[Settings(budget={"steps": 4, "eval_every": 2})])
    check_configs([good], None)
    recipe = parse_recipe({"methods": [{"coding-rate": {"modules": ["head"]}}]}, "bad")
    bad = resolve("self-distill-digits", recipe, seed=0,
                  settings=[Settings(budget={"steps": 4, "eval_every": 2})])
    with pytest.raises(ValueError, match="no module 'head'"):
        check_configs([bad], None)
