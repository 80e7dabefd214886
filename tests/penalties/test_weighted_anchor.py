"""Weighted anchor against a plain Python loop; the importance helper against per-batch grads."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import reglab as rl
from reglab.penalties import LayerWeights


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()


def _loop(net, pretrained, omega, alpha_rule):
    per_layer: dict[str, torch.Tensor] = {}
    for name, p in net.named_parameters():
        layer = name.rpartition(".")[0]
        term = torch.zeros((), dtype=p.dtype)
        for w, a, o in zip(p.flatten(), pretrained[name].flatten(), omega[name].flatten()):
            term = term + o * (w - a) ** 2
        per_layer[layer] = per_layer.get(layer, 0.0) + term
    total = sum(float(v.detach()) for v in per_layer.values())
    return sum(alpha_rule(layer, float(r.detach()), total) * r for layer, r in per_layer.items())


@pytest.mark.parametrize("mode", ["uniform", "dynamic", "given"])
def test_matches_a_python_loop(mode: str) -> None:
    net = _net()
    pretrained = {k: v.clone() for k, v in net.state_dict().items()}
    g = torch.Generator().manual_seed(1)
    omega = {k: torch.rand(v.shape, generator=g, dtype=v.dtype) for k, v in pretrained.items()}
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn(p.shape, generator=g, dtype=p.dtype))
    given = {"0": 0.3, "2": 2.0}
    weights = {"uniform": LayerWeights.UNIFORM, "dynamic": LayerWeights.DYNAMIC, "given": given}[mode]
    rules = {
        "uniform": lambda layer, r, total: 1.0,
        "dynamic": lambda layer, r, total: r / total,
        "given": lambda layer, r, total: given[layer],
    }
    pen = rl.WeightedAnchor(rl.select(net, "all"), strength=0.7, importance=omega, anchors=pretrained,
                            layer_weights=weights)
    expected = 0.7 * _loop(net, pretrained, omega, rules[mode])
    torch.testing.assert_close(pen(), expected, rtol=1e-12, atol=0)


def test_dynamic_coefficients_are_held_constant_for_the_gradient() -> None:
    net = _net()
    pretrained = {k: v.clone() for k, v in net.state_dict().items()}
    with torch.no_grad():
        for i, p in enumerate(net.parameters()):
            p.add_(0.1 * (i + 1))
    pen = rl.WeightedAnchor(rl.select(net, "all"), strength=1.0, anchors=pretrained)
    pen().backward()
    r = {layer: sum(((net.get_parameter(f"{layer}.{k}") - pretrained[f"{layer}.{k}"]) ** 2).sum()
                    for k in ("weight", "bias")).detach() for layer in ("0", "2")}
    total = r["0"] + r["2"]
    for name, p in net.named_parameters():
        alpha = r[name.rpartition(".")[0]] / total
        torch.testing.assert_close(p.grad, alpha * 2 * (p.detach() - pretrained[name]))


def test_uniform_importance_and_weights_is_twice_l2_sp() -> None:
    net = _net()
    pretrained = {k: v + 0.3 for k, v in net.state_dict().items()}
    pen = rl.WeightedAnchor(net, strength=0.2, anchors=pretrained, layer_weights="uniform")
    torch.testing.assert_close(pen(), 2 * rl.L2SP(net, strength=0.2, anchors=pretrained)(), rtol=1e-12, atol=0)


def test_squared_gradient_importance_matches_per_batch_gradients() -> None:
    net = _net()
    g = torch.Generator().manual_seed(2)
    batches = [(torch.randn(5, 3, generator=g, dtype=torch.float64), torch.randint(0, 2, (5,), generator=g))
               for _ in range(3)]

    def loss_fn(model, batch):
        x, y = batch
        return F.cross_entropy(model(x), y)

    omega = rl.squared_gradient_importance(net, batches, loss_fn)
    for name, p in net.named_parameters():
        expected = torch.zeros_like(p)
        for batch in batches:
            net.zero_grad()
            loss_fn(net, batch).backward()
            expected += p.grad ** 2
        torch.testing.assert_close(omega[name], expected / 3)
    net.zero_grad(set_to_none=True)
    rl.squared_gradient_importance(net, batches, loss_fn)
    assert all(p.grad is None for p in net.parameters())  # gradients left as they were
    with pytest.raises(ValueError, match="at least one batch"):
        rl.squared_gradient_importance(net, [], loss_fn)


def test_refuses_bad_importance_naming_it() -> None:
    net = _net()
    with pytest.raises(ValueError, match="importance for '0.weight'"):
        rl.WeightedAnchor(net, importance={"0.weight": -torch.ones(4, 3), "2.weight": torch.ones(2, 4)})
    with pytest.raises(ValueError, match="importance has no tensor"):
        rl.WeightedAnchor(net, importance={"0.weight": torch.ones(4, 3)})


def test_importance_softmax_value_and_gradient_match_a_python_loop() -> None:
    """α_l = exp(‖Ω_l‖₂)/Σ_j exp(‖Ω_j‖₂); R = λ Σ_l α_l Σ_i Ω_i(θ_i − θ⁰_i)², ∂R/∂θ_i = 2λ α_l Ω_i (θ_i − θ⁰_i)."""
    import math

    net = _net()
    pretrained = {k: v.clone() for k, v in net.state_dict().items()}
    g = torch.Generator().manual_seed(4)
    omega = {k: 2 * torch.rand(v.shape, generator=g, dtype=v.dtype) for k, v in pretrained.items()}
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn(p.shape, generator=g, dtype=p.dtype))
    norms: dict[str, float] = {}
    for name, o in omega.items():
        layer = name.rpartition(".")[0]
        norms[layer] = norms.get(layer, 0.0) + sum(float(v) ** 2 for v in o.flatten())
    denom = sum(math.exp(math.sqrt(v)) for v in norms.values())
    alpha = {layer: math.exp(math.sqrt(v)) / denom for layer, v in norms.items()}
    pen = rl.WeightedAnchor(rl.select(net, "all"), strength=0.7, importance=omega, anchors=pretrained,
                            layer_weights="importance-softmax")
    out = pen()
    expected = 0.7 * _loop(net, pretrained, omega, lambda layer, r, total: alpha[layer])
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=0)
    out.backward()
    for name, p in net.named_parameters():
        a = alpha[name.rpartition(".")[0]]
        torch.testing.assert_close(p.grad, 2 * 0.7 * a * omega[name] * (p.detach() - pretrained[name]),
                                   rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(
        rl.penalties.weighted_anchor.importance_softmax(pen.importance(), pen.layer_of),
        torch.tensor([alpha["0"], alpha["2"]], dtype=torch.float64), rtol=1e-12, atol=0)
