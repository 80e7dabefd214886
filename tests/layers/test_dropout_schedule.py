"""DropoutSchedule: early / late / linear rates follow the optimizer steps on every dropout-family
layer, the counter resumes from state_dict, and Recipe attaches it."""

import pytest
import torch
from torch import nn

import reglab as rl
from reglab import schedules


def model_with_dropouts():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(4, 8), nn.Dropout(0.3), rl.Residual(nn.Linear(8, 8), drop_path=0.2),
        nn.Dropout1d(0.1), rl.MultiSampleDropout(nn.Linear(8, 3), p=0.4, samples=2),
    )


def rates(model):
    return [m.p for m in model.modules() if hasattr(m, "p")]


def run(schedule, steps):
    model = model_with_dropouts()
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    hook = rl.DropoutSchedule(model, schedule)
    hook.attach(opt)
    seen = []
    for _ in range(steps):
        seen.append(rates(model))
        opt.step()
    return seen, hook, model


def test_early_dropout_switches_off_after_until_steps_on_every_layer():
    seen, _, _ = run(schedules.early(0.1, until=2), 4)
    assert [set(r) for r in seen] == [{0.1}, {0.1}, {0.0}, {0.0}]
    assert len(seen[0]) == 4  # Dropout, DropPath, Dropout1d, MultiSampleDropout


def test_late_and_linear_schedules():
    seen, _, _ = run(schedules.late(0.5, after=1), 3)
    assert [r[0] for r in seen] == [0.0, 0.5, 0.5]
    seen, _, _ = run(schedules.linear(0.2, 0.0, steps=2), 3)
    assert [r[0] for r in seen] == pytest.approx([0.2, 0.1, 0.0])


def test_state_dict_resumes_the_counter_and_sets_the_rate():
    _, hook, _ = run(schedules.early(0.1, until=3), 3)
    assert hook.state_dict() == {"step": 3}
    model = model_with_dropouts()
    fresh = rl.DropoutSchedule(model, schedules.early(0.1, until=3))
    assert set(rates(model)) == {0.1}
    fresh.load_state_dict(hook.state_dict())
    assert set(rates(model)) == {0.0}
    with pytest.raises(ValueError, match="'step'"):
        fresh.load_state_dict({"count": 1})


def test_recipe_attaches_the_hook():
    model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 3))
    hook = rl.DropoutSchedule(model, schedules.early(0.5, until=1))
    recipe = rl.Recipe([torch.optim.SGD(model.parameters(), lr=0.1), hook])
    recipe.step(model, torch.randn(5, 4), torch.randint(0, 3, (5,)))
    assert model[1].p == 0.0


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match="no dropout layers"):
        rl.DropoutSchedule(nn.Linear(2, 2), 0.1)
    with pytest.raises(ValueError, match=r"schedule must be in \[0, 1\) at every step"):
        rl.DropoutSchedule(model_with_dropouts(), schedules.late(1.2, after=3))
    with pytest.raises(TypeError, match="model must be an nn.Module"):
        rl.DropoutSchedule("net", 0.1)
