"""recalibrate_batchnorm: running statistics of the data, refusals, and a soup recalibrated."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import reglab as rl


def _bn_net(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))


def test_recalibrate_batchnorm_matches_statistics_of_the_data() -> None:
    net = _bn_net(0)
    g = torch.Generator().manual_seed(1)
    batches = [torch.randn(32, 3, generator=g) * 2 + 1 for _ in range(4)]
    net.eval()
    rl.recalibrate_batchnorm(net, [(x, None) for x in batches])
    assert not net.training and net[1].momentum == 0.1
    with torch.no_grad():
        h = torch.cat([net[0](x) for x in batches])
    # cumulative average of per-batch means (equal batches: the overall mean) and unbiased variances
    torch.testing.assert_close(net[1].running_mean, h.mean(0), rtol=1e-5, atol=1e-6)
    per_batch_var = torch.stack([net[0](x).var(0, unbiased=True) for x in batches]).mean(0).detach()
    torch.testing.assert_close(net[1].running_var, per_batch_var, rtol=1e-5, atol=1e-6)


def test_recalibrate_batchnorm_refuses_models_without_it() -> None:
    with pytest.raises(ValueError, match="no BatchNorm"):
        rl.recalibrate_batchnorm(nn.Linear(2, 2), [torch.zeros(1, 2)])
    with pytest.raises(ValueError, match="at least one batch"):
        rl.recalibrate_batchnorm(_bn_net(0), [])


def test_soup_with_recalibration_returns_statistics_of_the_averaged_weights() -> None:
    dicts = [{k: v.clone() for k, v in _bn_net(s).state_dict().items()} for s in (0, 1)]
    batches = [torch.randn(16, 3, generator=torch.Generator().manual_seed(i)) for i in range(3)]
    model = _bn_net(5)
    soup = rl.uniform_soup(dicts, model=model, batches=batches)
    plain = rl.uniform_soup(dicts)
    torch.testing.assert_close(soup["0.weight"], plain["0.weight"])
    check = _bn_net(6)
    check.load_state_dict(plain)
    rl.recalibrate_batchnorm(check, batches)
    torch.testing.assert_close(soup["1.running_mean"], check[1].running_mean)
    assert not torch.allclose(soup["1.running_mean"], plain["1.running_mean"])
    with pytest.raises(ValueError, match="batches"):
        rl.uniform_soup(dicts, model=model)
