"""Trained rank pruning: the energy rank, the truncated SVD against numpy, the k-step schedule."""

import numpy as np
import pytest
import torch
from torch import nn

import reglab as rl
from reglab.optim.trained_rank_pruning import energy_rank, truncate_rank_


def test_energy_rank_is_the_smallest_rank_reaching_the_energy():
    s = torch.tensor([4.0, 2.0, 1.0, 1.0])  # squares 16, 4, 1, 1 of 22
    for energy in (0.1, 0.5, 16 / 22, 0.8, 0.9, 0.95, 1.0):
        expected = next(r for r in range(1, 5) if float((s[:r] ** 2).sum()) >= energy * 22 - 1e-12)
        assert energy_rank(s, energy) == expected, energy
    assert energy_rank(torch.zeros(3), 0.5) == 1


@pytest.mark.parametrize("shape", [(6, 5), (4, 3, 2, 2)])
def test_truncation_equals_numpy_svd_in_float64(shape):
    w = torch.randn(shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    m = w.reshape(shape[0], -1).numpy()
    u, s, vh = np.linalg.svd(m, full_matrices=False)
    r = int(np.searchsorted(np.cumsum(s**2) / np.sum(s**2), 0.7) + 1)  # a plain reference
    expected = (u[:, :r] * s[:r]) @ vh[:r]
    assert truncate_rank_(w, 0.7) == r
    np.testing.assert_allclose(w.reshape(shape[0], -1).numpy(), expected, atol=1e-12)


def test_projects_every_k_steps_and_leaves_biases_and_energy_one_alone():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 6), nn.ReLU(), nn.Linear(6, 3))
    opt = torch.optim.SGD(net.parameters(), lr=0.0)  # steps do not move the weights
    trp = rl.TrainedRankPruning(net, energy=0.6, every=3)
    trp.attach(opt)
    start = {k: v.clone() for k, v in net.state_dict().items()}
    for step in range(1, 4):
        opt.step()
        same = all(torch.equal(start[k], v) for k, v in net.state_dict().items())
        assert same == (step < 3), step
    assert torch.equal(net[0].bias, start["0.bias"])
    assert [int(torch.linalg.matrix_rank(net[i].weight.detach())) for i in (0, 2)] == trp.ranks
    assert all(r < 3 for r in trp.ranks)
    full = rl.TrainedRankPruning(net, energy=1.0, every=1)
    before = net[0].weight.clone()
    assert full.project() == [] and torch.equal(net[0].weight, before)
    with pytest.raises(ValueError, match="energy"):
        rl.TrainedRankPruning(net, energy=0.0)
    with pytest.raises(ValueError, match="2 or more dimensions"):
        rl.TrainedRankPruning([torch.zeros(3)])


def test_a_recipe_attaches_it_to_the_run_optimizer():
    from reglab.bench.models import ModelSpec, build_model
    from reglab.bench.optimizers import OptimizerSpec
    from reglab.bench.recipes import build_step, parse_recipe

    spec = parse_recipe({"methods": [{"trained-rank-pruning": {"energy": 0.5, "every": 2}}]}, "trp")
    torch.manual_seed(0)
    model = build_model(ModelSpec(width=16, depth=1), (8,), 3)
    step = build_step(spec.methods, model, OptimizerSpec(), 3, 32, 4)
    x, y = torch.randn(32, 8), torch.randint(0, 3, (32,))
    step.step(model, x, y)
    assert int(torch.linalg.matrix_rank(model.features[1].weight.detach())) == 8  # not yet
    step.step(model, x, y)
    assert int(torch.linalg.matrix_rank(model.features[1].weight.detach())) < 8  # after 2 steps
