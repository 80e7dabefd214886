"""Input noise: x + σξ with ξ standard normal (checked statistically and against the same draws),
targets unchanged, identity at σ=0 and in eval; DDPM-IP's y_t against a hand computation with
the target left unperturbed."""

import math

import pytest
import torch

import reglab as rl
from reglab.functional import ddpm_ip_input


def test_perturbation_is_gaussian_with_std_sigma_and_targets_are_kept():
    noise = rl.InputNoise(std=0.3, num_classes=4, generator=torch.Generator().manual_seed(0))
    x = torch.full((4000, 5), 2.0, dtype=torch.float64)
    y = torch.randint(0, 4, (4000,))
    x2, y2 = noise(x, y)
    d = (x2 - x).flatten()
    n = d.numel()
    assert abs(float(d.mean())) < 4 * 0.3 / math.sqrt(n)
    assert abs(float(d.std()) - 0.3) < 4 * 0.3 / math.sqrt(2 * n)
    torch.testing.assert_close(y2, torch.nn.functional.one_hot(y, 4).double())
    assert x2.dtype == torch.float64 and torch.equal(x, torch.full_like(x, 2.0))  # x untouched


def test_draws_equal_a_generator_with_the_same_seed_and_resume_from_state_dict():
    x, y = torch.randn(3, 2, 4), torch.tensor([0, 1, 0])
    noise = rl.InputNoise(std=0.5, num_classes=2, generator=torch.Generator().manual_seed(7))
    expected = x + 0.5 * torch.randn(x.shape, generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(noise(x, y)[0], expected)
    state = noise.state_dict()
    again = rl.InputNoise(std=0.5, num_classes=2, generator=torch.Generator().manual_seed(99))
    again.load_state_dict(state)
    torch.testing.assert_close(again(x, y)[0], noise(x, y)[0])


def test_zero_std_eval_mode_and_schedules():
    x, y = torch.randn(3, 2), torch.tensor([0, 1, 0])
    assert rl.InputNoise(std=0.0, num_classes=2)(x, y)[0] is x
    assert rl.InputNoise(std=1.0, num_classes=2).eval()(x, y)[0] is x
    noise = rl.InputNoise(std=rl.schedules.early(1.0, until=1), num_classes=2)
    assert noise(x, y)[0] is not x and noise(x, y)[0] is x
    with pytest.raises(ValueError, match="std must be >= 0"):
        rl.InputNoise(std=-1.0)
    with pytest.raises(TypeError, match="floating-point"):
        rl.InputNoise(std=1.0, num_classes=2)(torch.ones(3, 2, dtype=torch.long), y)


def test_ddpm_ip_input_matches_a_hand_computation_and_keeps_the_target():
    g = torch.Generator().manual_seed(1)
    x0, eps, xi = (torch.randn(2, 3, generator=g, dtype=torch.float64) for _ in range(3))
    alpha_bar = torch.tensor([0.9, 0.25], dtype=torch.float64)
    y_t, target = ddpm_ip_input(x0, eps, alpha_bar, 0.1, xi)
    for i, a in enumerate(alpha_bar.tolist()):
        for j in range(3):
            want = math.sqrt(a) * x0[i, j] + math.sqrt(1 - a) * (eps[i, j] + 0.1 * xi[i, j])
            assert float(y_t[i, j]) == pytest.approx(float(want), rel=1e-12)
    assert target is eps
    plain, _ = ddpm_ip_input(x0, eps, alpha_bar, 0.0, xi)  # γ = 0: the plain forward process
    torch.testing.assert_close(plain, alpha_bar.sqrt()[:, None] * x0
                               + (1 - alpha_bar).sqrt()[:, None] * eps)
    with pytest.raises(ValueError, match="gamma must be >= 0"):
        ddpm_ip_input(x0, eps, alpha_bar, -0.1, xi)
    with pytest.raises(ValueError, match="xi must have"):
        ddpm_ip_input(x0, eps, alpha_bar, 0.1, xi[:1])
