"""DropPath: per-example drop rate near p, exact 1/(1-p) rescale, identity in eval and at p = 0,
unbiased on average; Residual and the stochastic-depth rates."""

import pytest
import torch
from torch import nn

import reglab as rl
from reglab import functional as RF


def test_rate_is_near_p_and_kept_examples_are_rescaled_exactly():
    p, n = 0.3, 20000
    x = torch.rand(n, 2, 3, dtype=torch.float64) + 0.5
    out = rl.DropPath(p, generator=torch.Generator().manual_seed(0))(x)
    dropped = (out == 0).flatten(1)
    assert bool((dropped.all(1) | ~dropped.any(1)).all())  # whole examples only
    rate = dropped.all(1).double().mean()
    assert abs(float(rate) - p) < 4 * (p * (1 - p) / n) ** 0.5
    kept = ~dropped.all(1)
    assert torch.equal(out[kept], x[kept] / (1 - p))


def test_eval_and_zero_p_are_the_identity():
    x = torch.randn(4, 5)
    assert rl.DropPath(0.5).eval()(x) is x
    assert rl.DropPath(0.0)(x) is x
    assert RF.drop_path(x, 0.5, training=False) is x


def test_average_over_draws_is_the_input():
    x = torch.randn(3, 4, dtype=torch.float64)
    g = torch.Generator().manual_seed(1)
    n = 20000
    draws = RF.drop_path(x.expand(n, 3, 4).transpose(0, 1).reshape(3 * n, 4), 0.4, generator=g)
    draws = draws.reshape(3, n, 4)
    mean, se = draws.mean(1), draws.std(1) / n ** 0.5
    assert bool(((mean - x).abs() <= 5 * se).all())


def test_residual_drops_only_the_branch():
    torch.manual_seed(0)
    block = nn.Linear(4, 4).double()
    res = rl.Residual(block, drop_path=0.5, generator=torch.Generator().manual_seed(2))
    x = torch.randn(200, 4, dtype=torch.float64)
    out = res(x)
    skip = torch.isclose(out, x).all(1)
    full = torch.isclose(out, x + block(x) / 0.5).all(1)
    assert bool((skip ^ full).all()) and 50 < int(skip.sum()) < 150
    assert torch.equal(res.eval()(x), x + block(x))


def test_stochastic_depth_rates_and_bad_arguments():
    assert rl.stochastic_depth_rates(0.2, depth=2) == pytest.approx([0.1, 0.2])
    with pytest.raises(ValueError, match="depth must be >= 1"):
        rl.stochastic_depth_rates(0.2, depth=0)
    with pytest.raises(ValueError, match=r"drop_path must be in \[0, 1\)"):
        rl.Residual(nn.Identity(), drop_path=1.0)
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        rl.DropPath(0.1, generator=0)
