"""WassersteinInit against a sorted plain loop, permutation invariance, the L2-init bound and gradcheck."""

import torch
from torch import nn

import reglab as rl


def plain(params, anchors):
    total = 0.0
    for p, a in zip(params, anchors):
        for u, v in zip(sorted(p.flatten().tolist()), sorted(a.flatten().tolist())):
            total += (u - v) ** 2
    return total


def test_matches_sorted_plain_loop():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3)).double()
    init = [p.detach().clone() for p in rl.select(model)]
    pen = rl.WassersteinInit(model, strength=0.3)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p))
    torch.testing.assert_close(pen().item(), 0.3 * plain(list(rl.select(model)), init), rtol=1e-12, atol=0)


def test_permutations_cost_nothing_and_value_is_below_l2_init():
    torch.manual_seed(1)
    w = nn.Parameter(torch.randn(5, 7, dtype=torch.float64))
    pen, l2 = rl.WassersteinInit([w], strength=1.0), rl.L2Init([w], strength=1.0)
    with torch.no_grad():
        w.copy_(w.flatten()[torch.randperm(35)].reshape(5, 7))
    assert pen().item() == 0.0 and l2().item() > 0
    with torch.no_grad():
        w.add_(0.3 * torch.randn_like(w))
    assert pen().item() <= 2 * l2().item()  # sorted pairing minimizes Σ(u − v)²; L2Init has a ½


def test_gradient_by_gradcheck_and_anchor_mapping():
    torch.manual_seed(2)
    w = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    anchor = torch.randn(3, 4, dtype=torch.float64)
    pen = rl.WassersteinInit([w], strength=0.7, anchors={"0": anchor})
    assert torch.autograd.gradcheck(lambda t: rl.penalties.wasserstein_init.wasserstein_init(
        [t], [anchor.flatten().sort().values]), (w,))
    torch.testing.assert_close(pen().item(), 0.7 * plain([w.detach()], [anchor]), rtol=1e-12, atol=0)
