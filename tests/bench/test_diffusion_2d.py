"""diffusion-2d: sliced Wasserstein, the schedule, the sampler, options and a tiny run."""

from __future__ import annotations

import math

import pytest
import torch
from scipy.optimize import linear_sum_assignment

from reglab.bench.measures import Measure
from reglab.bench.models import ModelSpec
from reglab.bench.runs import RunConfig, Status
from reglab.bench.tasks import get_task
from reglab.bench.tasks.diffusion_2d import Denoiser, betas, mixture, sample, sliced_wasserstein
from reglab.bench.train import execute

TINY = {"train_size": 64, "diffusion_steps": 25, "eval_samples": 64, "projections": 16}


def test_sliced_wasserstein_of_a_shift_is_closed_form():
    a = torch.randn(50, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    m = torch.tensor([0.3, -1.2], dtype=torch.float64)
    axes = torch.eye(2, dtype=torch.float64)  # θ·m on the axes: SW₂² = (m₁² + m₂²) / 2
    assert sliced_wasserstein(a, a + m, axes) == pytest.approx(
        math.sqrt((m.square().sum() / 2).item())
    )
    assert sliced_wasserstein(a, a[torch.randperm(50)], axes) == 0.0


def test_sliced_wasserstein_equals_optimal_assignment_per_direction():
    gen = torch.Generator().manual_seed(1)
    a, b = torch.randn(30, 2, generator=gen), torch.rand(30, 2, generator=gen) * 3
    dirs = torch.randn(4, 2, generator=gen, dtype=torch.float64)
    dirs = dirs / dirs.norm(dim=1, keepdim=True)
    total = 0.0
    for theta in dirs:  # the optimal 1-D coupling by brute assignment, not by sorting
        pa, pb = a.double() @ theta, b.double() @ theta
        cost = (pa[:, None] - pb[None, :]).square().numpy()
        rows, cols = linear_sum_assignment(cost)
        total += cost[rows, cols].mean()
    assert sliced_wasserstein(a, b, dirs) == pytest.approx(math.sqrt(total / 4), rel=1e-10)
    with pytest.raises(ValueError, match="same shape"):
        sliced_wasserstein(a, b[:5], dirs)


def test_schedule_is_ddpms_rescaled():
    beta = betas(100)
    assert (
        len(beta) == 100
        and beta[0].item() == pytest.approx(1e-3)
        and beta[-1].item() == pytest.approx(0.2)
    )
    assert torch.cumprod(1 - beta, 0)[-1] < 1e-4  # y_T is close to pure noise


class _PointMassDenoiser(torch.nn.Module):
    """The exact ε-predictor when all data sit at ``c``: ε = (y − √ᾱ c) / √(1 − ᾱ)."""

    def __init__(self, c: torch.Tensor, steps: int) -> None:
        super().__init__()
        self.c, self.alpha_bar, self.steps = c, torch.cumprod(1 - betas(steps), 0), steps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = (x[:, 2] * self.steps).round().long() - 1
        a = self.alpha_bar[k][:, None]
        return (x[:, :2] - a.sqrt() * self.c) / (1 - a).sqrt()


def test_sampler_with_the_exact_denoiser_returns_the_point_mass():
    opts = get_task("diffusion-2d").options({"diffusion_steps": 50})
    c = torch.tensor([1.5, -0.5], dtype=torch.float64)
    points = sample(
        _PointMassDenoiser(c, 50), opts, 100, torch.Generator().manual_seed(0), torch.float64
    )
    torch.testing.assert_close(points, c.expand(100, 2), atol=1e-9, rtol=0)


def test_mixture_stratified_and_denoiser_shapes():
    opts = get_task("diffusion-2d").options({"modes": 4, "mode_std": 1e-9, "radius": 1.0})
    pts = mixture(opts, 8, torch.Generator().manual_seed(0), stratified=True)
    torch.testing.assert_close(
        pts[:4],
        torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]], dtype=torch.float64),
        atol=1e-6,
        rtol=0,
    )
    assert Denoiser(ModelSpec(width=8, depth=2))(torch.randn(5, 3)).shape == (5, 2)


def test_options_are_checked():
    task = get_task("diffusion-2d")
    with pytest.raises(ValueError, match="gamma"):
        task.options({"gamma": -0.1})
    with pytest.raises(ValueError, match="no labels"):
        task.options({"label_noise": 0.2})
    assert Measure.parse("min(sample_swd)").metric == "sample_swd"
    config = RunConfig(
        "diffusion-2d",
        TINY,
        {"arch": "mlp", "dropout": 0.1},
        {"name": "adam"},
        "none",
        [],
        0,
        2,
        16,
        1,
    )
    with pytest.raises(ValueError, match="no dropout"):
        task.check(config, None)


def _run(gamma: float, seed: int = 0):
    config = RunConfig(
        "diffusion-2d",
        {**TINY, "gamma": gamma},
        {"arch": "mlp", "width": 16, "depth": 2},
        {"name": "adam", "lr": 1e-3},
        "none",
        [],
        seed,
        6,
        16,
        3,
    )
    return execute(config)


def test_tiny_runs_are_seeded_and_gamma_changes_training():
    plain, again, ip = _run(0.0), _run(0.0), _run(0.1)
    for r in (plain, ip):
        assert r.status is Status.DONE, r.message
        assert {"sample_swd", "reference_swd", "step_loss"} <= set(r.metrics)
    assert plain.metrics["sample_swd"] == again.metrics["sample_swd"]
    assert plain.metrics["reference_swd"] == ip.metrics["reference_swd"]  # same evaluation draws
    assert plain.metrics["step_loss"] != ip.metrics["step_loss"]
    assert [s for s, m, _ in plain.curves if m == "sample_swd"] == [3, 6]
