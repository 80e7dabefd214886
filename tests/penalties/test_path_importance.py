"""Path-integral importance (Song et al. 2025, §4.1; Synaptic Intelligence) against a hand loop."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import reglab as rl


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()


def _batches(n: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(3)
    return [(torch.randn(6, 3, generator=g, dtype=torch.float64), torch.randint(0, 2, (6,), generator=g))
            for _ in range(n)]


def _train(net, opt, batches) -> None:
    for x, y in batches:
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()


def _hand_loop(net, batches, xi):
    """ω_i = Σ_t −g_i(t)(θ_i(t+1) − θ_i(t)); Ω_i = max(ω_i, 0) / ((θ_i(T) − θ_i(0))² + ξ), element by element."""
    opt = torch.optim.SGD(net.parameters(), lr=0.3, momentum=0.9)
    start = {n: p.detach().clone() for n, p in net.named_parameters()}
    omega = {n: torch.zeros_like(p) for n, p in net.named_parameters()}
    for x, y in batches:
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        grads = {n: p.grad.clone() for n, p in net.named_parameters()}
        before = {n: p.detach().clone() for n, p in net.named_parameters()}
        opt.step()
        for n, p in net.named_parameters():
            flat_w, flat_g = omega[n].view(-1), grads[n].view(-1)
            flat_b, flat_a = before[n].view(-1), p.detach().view(-1)
            for i in range(flat_w.numel()):
                flat_w[i] -= flat_g[i] * (flat_a[i] - flat_b[i])
    out = {}
    for n, p in net.named_parameters():
        total = p.detach() - start[n]
        out[n] = torch.tensor([max(float(w), 0.0) / (float(d) ** 2 + xi)
                               for w, d in zip(omega[n].flatten(), total.flatten())],
                              dtype=p.dtype).view(p.shape)
    return out, omega


def test_matches_a_hand_loop_with_momentum() -> None:
    net = _net()
    ref = copy.deepcopy(net)
    batches = _batches(5)
    rec = rl.PathIntegralImportance(rl.select(net, "all"), xi=0.05)
    opt = torch.optim.SGD(net.parameters(), lr=0.3, momentum=0.9)
    rec.attach(opt)
    _train(net, opt, batches)
    expected, omega = _hand_loop(ref, batches, xi=0.05)
    got = rec.importance()
    assert set(got) == set(expected) and rec.steps == 5
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=1e-12, atol=1e-15)
        torch.testing.assert_close(rec.path_integral()[name], omega[name], rtol=1e-12, atol=1e-15)
    assert rec.clipped() == sum(int((w < 0).sum()) for w in omega.values())


def test_negative_contribution_is_clipped_to_zero() -> None:
    w = nn.Parameter(torch.zeros(2, dtype=torch.float64))
    rec = rl.PathIntegralImportance([w], xi=0.5)
    w.grad = torch.tensor([1.0, 1.0], dtype=torch.float64)
    with torch.no_grad():
        w.copy_(torch.tensor([1.0, -1.0]))     # first entry moved up the gradient, second down
    rec.after_step()
    torch.testing.assert_close(rec.path_integral()["0"], torch.tensor([-1.0, 1.0], dtype=torch.float64))
    torch.testing.assert_close(rec.importance()["0"], torch.tensor([0.0, 1.0 / 1.5], dtype=torch.float64))
    assert rec.clipped() == 1


def test_stop_and_resume_equals_running_through() -> None:
    batches = _batches(4)
    net_a, net_b = _net(), _net()
    opt_a = torch.optim.SGD(net_a.parameters(), lr=0.2)
    rec_a = rl.PathIntegralImportance(net_a)
    rec_a.attach(opt_a)
    _train(net_a, opt_a, batches)

    opt_b = torch.optim.SGD(net_b.parameters(), lr=0.2)
    first = rl.PathIntegralImportance(net_b)
    first.attach(opt_b)
    _train(net_b, opt_b, batches[:2])
    state = first.state_dict()
    first.detach()
    second = rl.PathIntegralImportance(net_b)
    second.load_state_dict(state)
    second.attach(opt_b)
    _train(net_b, opt_b, batches[2:])
    for name, value in rec_a.importance().items():
        torch.testing.assert_close(second.importance()[name], value, rtol=0, atol=0)
    assert second.steps == 4


def test_feeds_weighted_anchor_and_refuses_bad_xi() -> None:
    net = _net()
    opt = torch.optim.SGD(net.parameters(), lr=0.3)
    rec = rl.PathIntegralImportance(net)
    rec.attach(opt)
    _train(net, opt, _batches(3))
    pen = rl.WeightedAnchor(net, strength=1.0, importance=rec.importance(),
                            layer_weights=rl.LayerWeights.IMPORTANCE_SOFTMAX)
    assert float(pen().detach()) == 0.0         # anchored at the weights it was built on
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="xi"):
            rl.PathIntegralImportance(net, xi=bad)
    with pytest.raises(ValueError, match="keys"):
        rec.load_state_dict({"omega": []})
