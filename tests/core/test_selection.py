import pytest
import torch
from torch import nn

from reglab import select
from reglab._core.selection import Selection, as_selection


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.conv = nn.Conv1d(4, 4, 3)
        self.bn = nn.BatchNorm1d(4)
        self.ln = nn.LayerNorm(4)
        self.head = nn.Linear(4, 2)
        self.scale = nn.Parameter(torch.ones(4))  # 1-D: not a weight matrix


def test_weights_leave_out_bias_norm_embedding_and_vectors():
    assert select(Net()).names() == ("conv.weight", "head.weight")


def test_all_keeps_every_parameter_in_model_order():
    net = Net()
    assert select(net, "all").names() == tuple(n for n, _ in net.named_parameters())


def test_predicate_and_unknown_name():
    net = Net()
    assert select(net, lambda n, p: n.startswith("head")).names() == ("head.weight", "head.bias")
    with pytest.raises(ValueError, match="did you mean 'weights'"):
        select(net, "weigths")


def test_as_selection_forms_and_errors():
    net = Net()
    assert as_selection(net).names() == select(net).names()
    w = net.head.weight
    assert as_selection([w, w, net.head.bias]).params() == [w, net.head.bias]  # duplicates dropped
    s = select(net)
    assert as_selection(s) is s
    with pytest.raises(ValueError, match="params selects no parameters"):
        as_selection([])
    with pytest.raises(ValueError, match="selects no parameters"):
        as_selection(nn.ReLU())
    with pytest.raises(TypeError, match="single tensor"):
        as_selection(w)
    with pytest.raises(TypeError, match=r"params\[1\] must be a tensor"):
        as_selection([w, 3.0])


def test_check_finite_names_the_bad_parameter():
    net = Net()
    s = select(net, "all")
    s.check_finite()
    with torch.no_grad():
        net.head.weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match="'head.weight' has non-finite"):
        s.check_finite()
    assert isinstance(s, Selection) and s.numel() == sum(p.numel() for p in net.parameters())
