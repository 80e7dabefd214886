import pytest
import torch
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


def test_bind_resolves_a_schedule_and_a_selection_name_in_the_same_route():
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    spec = {"strength": {"schedule": "early", "value": 0.5, "until": "30%"}, "params": "all"}
    pen = bind("l2", spec, SetUp(model, total_steps=10))
    assert len(pen.selection) == 4  # "all" keeps the biases
    values = []
    for _ in range(4):
        values.append(float(pen.strength()))
        pen.strength.advance()
    assert values == [0.5, 0.5, 0.5, 0.0]  # 30% of 10 steps
    with pytest.raises(ValueError, match="needs the run's total_steps"):
        bind("l2", spec, SetUp(model))


def test_bind_gives_the_set_ups_generator_to_methods_that_take_one():
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    g = torch.Generator().manual_seed(7)
    mix = bind("mixup", {"alpha": 1.0}, SetUp(model, num_classes=3, generator=g))
    assert mix.generator is g
    assert bind("mixup", {}, SetUp(model, num_classes=3)).generator is None  # optional
    pen = bind("l2", {}, SetUp(model, generator=g))  # takes none: nothing passed
    assert isinstance(pen, rl.L2)
    bind("mixout", {"p": 0.5}, SetUp(model, generator=g))  # surgery gets it too
    layers = [m for m in model.modules() if hasattr(m, "generator")]
    assert layers and all(m.generator is g for m in layers)
