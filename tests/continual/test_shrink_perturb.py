"""ShrinkPerturb: per-step Gaussian form against a plain loop, noise statistics, task boundaries
through Recipe, and fresh-initialization noise against nn.init with the same generator."""

import math

import pytest
import torch
from torch import nn

import reglab as rl


def model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.LayerNorm(5), nn.Linear(5, 2)).double()


def test_gaussian_per_step_equals_plain_loop():
    m, ref = model(), model()
    opt = torch.optim.SGD(m.parameters(), lr=0.0)
    rl.ShrinkPerturb(0.9, 0.05, m, generator=torch.Generator().manual_seed(3)).attach(opt)
    g = torch.Generator().manual_seed(3)
    for _ in range(3):
        opt.step()
        with torch.no_grad():
            for p in ref.parameters():  # every parameter, biases and norm layers included
                p.copy_(0.9 * p + 0.05 * torch.randn(p.shape, dtype=p.dtype, generator=g))
    for a, b in zip(m.parameters(), ref.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-15)


def test_noise_is_standard_normal_times_sigma():
    w = torch.zeros(200, 200)
    sp = rl.ShrinkPerturb(1.0, 0.1, [w], generator=torch.Generator().manual_seed(0))
    sp.apply()
    z = w / 0.1
    assert abs(float(z.mean())) < 0.01 and abs(float(z.std()) - 1) < 0.01  # 40,000 draws: ~5 s.e.


def test_task_boundary_mode_acts_only_at_end_task_through_recipe():
    m = model()
    before = [p.detach().clone() for p in m.parameters()]
    opt = torch.optim.SGD(m.parameters(), lr=0.0)
    sp = rl.ShrinkPerturb(0.5, 0.0, m, every=rl.Every.TASK)
    assert sp.capabilities.needs_task_boundary
    recipe = rl.Recipe([opt, sp])
    recipe.step(m, torch.randn(4, 6, dtype=torch.float64), torch.randint(0, 2, (4,)))
    assert all(torch.equal(a, b) for a, b in zip(m.parameters(), before))
    recipe.end_task()
    assert all(torch.equal(a, 0.5 * b) for a, b in zip(m.parameters(), before))
    assert sp.applied == 1


def test_fresh_init_noise_follows_the_default_initializers():
    m = model()
    sp = rl.ShrinkPerturb(0.0, 1.0, m, source=rl.Noise.INIT, generator=torch.Generator().manual_seed(4))
    sp.apply()
    g = torch.Generator().manual_seed(4)
    w0 = torch.empty(5, 6, dtype=torch.float64)
    nn.init.kaiming_uniform_(w0, a=math.sqrt(5), generator=g)
    torch.testing.assert_close(m[0].weight.detach(), w0, rtol=0, atol=1e-15)
    assert float(m[0].bias.detach().abs().max()) <= 1 / math.sqrt(6) and float(m[0].bias.detach().abs().min()) > 0
    assert torch.equal(m[2].weight, torch.ones(5, dtype=torch.float64))
    assert torch.equal(m[2].bias, torch.zeros(5, dtype=torch.float64))
    assert float(m[3].weight.detach().abs().max()) <= 1 / math.sqrt(5)


def test_fresh_init_refuses_unknown_modules_and_plain_tensors():
    class Scale(nn.Module):
        def __init__(self):
            super().__init__()
            self.s = nn.Parameter(torch.ones(1))

    with pytest.raises(ValueError, match="Scale"):
        rl.ShrinkPerturb(0.5, 0.1, nn.Sequential(nn.Linear(2, 2), Scale()), source="init")
    with pytest.raises(TypeError, match="params"):
        rl.ShrinkPerturb(0.5, 0.1, [torch.zeros(2)], source="init")


def test_resume_draws_the_same_noise():
    a, b = model(), model()
    sa = rl.ShrinkPerturb(0.9, 0.1, a, generator=torch.Generator().manual_seed(1))
    sa.apply()
    sb = rl.ShrinkPerturb(0.9, 0.1, b, generator=torch.Generator().manual_seed(99))
    b.load_state_dict(a.state_dict())
    sb.load_state_dict(sa.state_dict())
    sa.apply()
    sb.apply()
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))
