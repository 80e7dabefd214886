"""The activity API: hooks, one step's activations, eval silence, removal, clear errors, Recipe."""

import gc
import weakref

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import reglab as rl


def mlp() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 2)).double()


def x(n: int = 6) -> torch.Tensor:
    return torch.randn(n, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))


def hook_count(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def test_value_equals_plain_computation_over_several_modules():
    model = mlp()
    pen = rl.ActivationL1(model, modules=["0", "1"], strength=0.3)
    inp = x()
    model(inp)
    h = model[0](inp)
    expected = 0.3 * (h.abs().mean() + torch.relu(h).abs().mean())
    torch.testing.assert_close(pen(), expected)


def test_site_input_reads_the_first_positional_input():
    model = mlp()
    pen = rl.ActivationL1(model, modules="2", strength=1.0, site=rl.Site.INPUT)
    inp = x()
    model(inp)
    torch.testing.assert_close(pen(), torch.relu(model[0](inp)).mean())


def test_unknown_module_suggests_the_nearest():
    model = nn.Sequential()
    model.add_module("encoder", nn.Linear(2, 2))
    with pytest.raises(ValueError, match=r"modules: the model has no module 'encodr'.*did you mean 'encoder'"):
        rl.VNE(model, modules="encodr")
    assert hook_count(model) == 0


def test_module_that_did_not_run_is_refused():
    model = mlp()
    pen = rl.FLOPS(model, modules="1")
    with pytest.raises(RuntimeError, match="'1' did not run since the penalty was last called"):
        pen()
    model(x())
    pen()
    with pytest.raises(RuntimeError, match="did not run"):  # the activations were consumed
        pen()


def test_nan_activation_is_refused_naming_the_module():
    model = mlp()
    pen = rl.ActivationL1(model, modules="1", strength=0.1)
    bad = x()
    bad[0, 0] = float("nan")
    model(bad)
    with pytest.raises(ValueError, match="module '1' holds NaN"):
        pen()


@pytest.mark.parametrize("cls", [rl.ActivationL1, rl.FLOPS, rl.VNE, rl.CodingRate, rl.JacobianNorm])
def test_eval_mode_and_no_grad_are_silent(cls):
    model = mlp()
    pen = cls(model, modules=["2"], strength=0.5)
    model.eval()
    model(x())
    out = pen()
    assert float(out) == 0.0 and not out.requires_grad and out.dtype == torch.float64
    model.train()
    with torch.no_grad():
        model(x())
    assert float(pen()) == 0.0
    pen.eval()
    model(x())
    assert float(pen()) == 0.0
    assert int(pen.strength.step) == 0  # silent calls do not advance a schedule
    pen.train()
    model(x())
    assert pen().requires_grad and int(pen.strength.step) == 1


def test_only_the_latest_run_is_kept_and_nothing_after_the_call():
    model = mlp()
    pen = rl.ActivationL1(model, modules="1", strength=1.0)
    a, b = x(), 2 * x()
    model(a)
    model(b)  # overwrites, does not append
    assert len(pen._acts) == 1
    torch.testing.assert_close(pen(), torch.relu(model[0](b)).mean())
    assert pen._acts == {}  # no activation (and no graph) outlives the step


def test_remove_and_context_manager_take_the_hooks_off():
    model = mlp()
    before = hook_count(model)
    pen = rl.JacobianNorm(model, modules=["", "2"])
    assert hook_count(model) == before + 4  # a pre-hook and a hook on each module
    pen.remove()
    pen.remove()  # idempotent
    assert hook_count(model) == before
    with pytest.raises(RuntimeError, match="removed"):
        pen()
    with rl.VNE(model, modules="1") as pen2:
        assert hook_count(model) == before + 1
        model(x())
        pen2()
    assert hook_count(model) == before


def test_a_dropped_penalty_does_not_keep_recording():
    model = mlp()
    pen = rl.ActivationL1(model, modules="1")
    ref = weakref.ref(pen)
    del pen
    gc.collect()
    assert ref() is None  # the hooks hold the penalty weakly
    model(x())  # the orphaned hook is a no-op


def test_constructor_error_leaves_no_hook_behind():
    model = mlp()
    with pytest.raises(ValueError, match="eps"):
        rl.CodingRate(model, modules="1", eps=0.0)
    with pytest.raises(ValueError, match="projections"):
        rl.JacobianNorm(model, modules="1", projections=0)
    assert hook_count(model) == 0


def test_recipe_trains_with_an_activity_penalty_like_a_loss_term():
    model, ref = mlp(), mlp()
    inp, y = x(), torch.tensor([0, 1, 0, 1, 1, 0])
    pen = rl.FLOPS(model, modules="1", strength=0.2)
    recipe = rl.Recipe([pen, torch.optim.SGD(model.parameters(), lr=0.1)])
    recipe.step(model, inp, y)
    opt = torch.optim.SGD(ref.parameters(), lr=0.1)
    loss = F.cross_entropy(ref(inp), y) + 0.2 * torch.relu(ref[0](inp)).mean(0).square().sum()
    loss.backward()
    opt.step()
    for p, q in zip(model.parameters(), ref.parameters()):
        torch.testing.assert_close(p, q)


def test_state_dict_holds_the_schedule_counter_not_the_model():
    model = mlp()
    pen = rl.FLOPS(model, modules="1", strength=rl.quadratic_warmup(1.0, steps=4))
    for _ in range(3):
        model(x())
        pen()
    state = pen.state_dict()
    assert list(state) == ["strength.step"] and int(state["strength.step"]) == 3
