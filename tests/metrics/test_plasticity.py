"""plasticity_stats on constructed networks with known dead units and known ranks."""

import math

import torch
from torch import nn

import reglab as rl


def test_known_dead_units_and_ranks_in_an_mlp():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2), nn.ReLU(), nn.Linear(2, 1)).double()
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, 0, 0], [0, 1, 0], [1, 1, 0], [-1, -1, -1]]))
        model[0].bias.zero_()
        model[2].weight.copy_(torch.tensor([[1.0, 1, 1, 1], [0, 0, 0, 0]]))
        model[2].bias.copy_(torch.tensor([0.0, -1.0]))
    probe = torch.rand(50, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))  # inputs > 0
    stats = rl.plasticity_stats(model, probe)
    first, second = stats["0"], stats["2"]
    assert float(first["dead_fraction"]) == 0.25  # unit 3 never fires on positive inputs
    assert int(first["approximate_rank"]) == 2  # units 0, 1 free; unit 2 = unit 0 + unit 1
    assert float(second["dead_fraction"]) == 0.5  # unit 1 gets bias −1 and no input
    assert int(second["approximate_rank"]) == 1
    torch.testing.assert_close(second["effective_rank"], torch.tensor(1.0, dtype=torch.float64))
    torch.testing.assert_close(first["mean_abs_weight"], torch.tensor(7 / 12, dtype=torch.float64))


def test_effective_rank_of_equal_orthogonal_features_and_threshold():
    model = nn.Sequential(nn.Linear(4, 4, bias=False), nn.Identity(), nn.Linear(4, 1)).double()
    with torch.no_grad():
        model[0].weight.copy_(torch.diag(torch.tensor([2.0, 2.0, 2.0, 0.1])))
    stats = rl.plasticity_stats(model, torch.eye(4, dtype=torch.float64))["0"]
    p = torch.tensor([2, 2, 2, 0.1], dtype=torch.float64) / 6.1
    assert math.isclose(float(stats["effective_rank"]), math.exp(-float((p * p.log()).sum())), rel_tol=1e-9)
    assert int(stats["approximate_rank"]) == 3  # 12 / 12.01 > 0.99
    only = rl.plasticity_stats(model, torch.eye(4, dtype=torch.float64), threshold=0.9999)["0"]
    assert int(only["approximate_rank"]) == 4


def test_conv_channels_dead_everywhere_and_mode_restored():
    model = nn.Sequential(nn.Conv2d(1, 3, 1), nn.ReLU(), nn.Dropout(0.5), nn.Flatten(), nn.Linear(3 * 4, 1)).double()
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([1.0, -1.0, 2.0]).view(3, 1, 1, 1))
        model[0].bias.zero_()
    model.train()
    stats = rl.plasticity_stats(model, torch.rand(5, 1, 2, 2, dtype=torch.float64) + 0.1)["0"]
    assert math.isclose(float(stats["dead_fraction"]), 1 / 3)
    assert int(stats["approximate_rank"]) == 1  # channels 0 and 2 are proportional
    assert model.training and model[2].training
