import pytest
import torch
from torch import nn

import reglab as rl
from reglab import functional as RF


def model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).double()


def test_snapshot_at_construction_then_value_equals_loop():
    m = model()
    initial = [m[0].weight.detach().clone(), m[2].weight.detach().clone()]
    pen = rl.L2Init(m, strength=0.2)
    assert pen().item() == 0.0
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn_like(p))
    expected = 0.2 * 0.5 * sum(((w - w0) ** 2).sum() for w, w0 in zip([m[0].weight, m[2].weight], initial))
    torch.testing.assert_close(pen(), expected, rtol=1e-13, atol=0)
    torch.testing.assert_close(pen.anchors()[0], initial[0])  # a copy, not a view of the weights


def test_zero_anchors_is_l2_and_gradient_is_strength_times_distance():
    g = torch.Generator().manual_seed(1)
    ps = [torch.randn(3, 2, generator=g, dtype=torch.float64, requires_grad=True),
          torch.randn(4, generator=g, dtype=torch.float64, requires_grad=True)]
    torch.testing.assert_close(rl.L2Init(ps, 0.3, anchors=[torch.zeros_like(p) for p in ps])(), rl.L2(ps, 0.3)())
    anchors = [torch.ones_like(p) for p in ps]
    rl.L2Init(ps, 0.3, anchors=anchors)().backward()
    torch.testing.assert_close(ps[0].grad, 0.3 * (ps[0].detach() - 1))
    assert torch.autograd.gradcheck(lambda a, b: RF.l2_anchor([a, b], anchors), tuple(ps))


def test_state_dict_carries_the_anchors():
    m = model()
    pen = rl.L2Init(m, strength=0.1)
    other = rl.L2Init(model().requires_grad_(False), strength=0.1, anchors=[torch.zeros(4, 3), torch.zeros(2, 4)])
    other.load_state_dict(pen.state_dict())
    torch.testing.assert_close(other.anchors()[1], m[2].weight.detach())
    assert set(pen.state_dict()) == {"strength.step", "anchor_0", "anchor_1"}


def test_bad_anchors():
    m = model()
    with pytest.raises(ValueError, match="anchors holds 1 tensors but params selects 2"):
        rl.L2Init(m, anchors=[torch.zeros(4, 3)])
    with pytest.raises(ValueError, match=r"anchors for '2.weight' must be a tensor of shape \(2, 4\)"):
        rl.L2Init(m, anchors=[torch.zeros(4, 3), torch.zeros(4, 2)])
    with pytest.raises(TypeError, match="anchors must be None, a sequence"):
        rl.L2Init(m, anchors=torch.zeros(3))
    with pytest.raises(ValueError, match="non-finite"):
        rl.L2Init(m, anchors=[torch.zeros(4, 3), torch.full((2, 4), float("nan"))])
