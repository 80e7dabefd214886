import pytest
from torch import nn

import reglab as rl
from reglab._core.binding import SetUp, bind


def test_bind_fills_params_from_the_model_and_keeps_given_arguments():
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    pen = bind("l2", {"strength": 0.5}, SetUp(model))
    assert isinstance(pen, rl.L2) and pen.selection.names() == ("0.weight", "1.weight")
    only_first = bind("l2", {"params": model[0], "strength": 0.5}, SetUp(model))
    assert only_first.selection.params() == [model[0].weight]


def test_bind_reports_what_the_set_up_lacks(monkeypatch):
    class NeedsClasses(nn.Module):
        def __init__(self, num_classes, smoothing=0.1):
            super().__init__()

    from reglab._core import registry

    entry = rl.entry("l2")
    fake = registry.MethodEntry("fake", entry.family, rl.Kind.LOSS, entry.paper, NeedsClasses)
    monkeypatch.setitem(registry._ENTRIES, "fake", fake)
    with pytest.raises(ValueError, match="fake needs 'num_classes'"):
        bind("fake", {}, SetUp(nn.Linear(1, 1)))
    assert isinstance(bind("fake", {}, SetUp(nn.Linear(1, 1), num_classes=3)), NeedsClasses)
