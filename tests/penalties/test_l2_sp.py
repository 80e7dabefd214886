import pytest
import torch
from torch import nn

import reglab as rl


def test_mapping_anchors_from_a_pretrained_state_dict():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    pretrained = {k: v.clone() for k, v in net.state_dict().items()}
    pen = rl.L2SP(net, strength=0.4, anchors=pretrained)
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(1.5)
    expected = 0.4 * 0.5 * sum(((net.get_parameter(k) - pretrained[k]) ** 2).sum() for k in ("0.weight", "2.weight"))
    torch.testing.assert_close(pen(), expected, rtol=1e-13, atol=0)
    listed = rl.L2SP(net, strength=0.4, anchors=[pretrained["0.weight"], pretrained["2.weight"]])
    torch.testing.assert_close(listed(), pen())


def test_pretrained_anchor_is_copied_and_missing_names_are_refused():
    net = nn.Linear(2, 2)
    pretrained = {"weight": torch.zeros(2, 2)}
    pen = rl.L2SP(net, strength=1.0, anchors=pretrained)
    pretrained["weight"].add_(5.0)  # the caller's tensor changing later does not move the anchor
    assert float(pen.anchors()[0].abs().max()) == 0.0
    with pytest.raises(ValueError, match=r"anchors has no tensor for the selected parameters \['weight'\]"):
        rl.L2SP(net, anchors={"bias": torch.zeros(2)})
