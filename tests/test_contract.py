"""The contract every registry entry honours, checked over the whole registry.

Per entry: it has sample arguments and a card naming its paper; it builds and runs in float32
and float64 with finite outputs in that dtype; bad arguments raise an error naming the
argument; ``state_dict()`` round-trips and resuming gives the same next result; zero strength
(or p=0) and eval mode leave inputs, outputs or trajectories unchanged where that applies;
an activity penalty is silent in eval mode and ``remove()`` / its ``with`` block take its hooks off.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import reglab  # noqa: F401  (fills the registry)
from reglab._core import registry
from reglab._core.registry import Kind, MethodEntry
from reglab._core.samples import Sample, SampleContext

ENTRIES = list(registry.entries())
DTYPES = [torch.float32, torch.float64]
STATEFUL = (Kind.PENALTY, Kind.ACTIVITY, Kind.TRANSFORM, Kind.LOSS, Kind.LAYER, Kind.OPTIMIZER,
            Kind.POST_STEP)


def by_entry(f: Any) -> Any:
    return pytest.mark.parametrize("entry", ENTRIES, ids=[e.name for e in ENTRIES])(f)


def build(entry: MethodEntry, ctx: SampleContext, **overrides: Any) -> tuple[Any, Sample]:
    if entry.sample is None:
        pytest.fail(f"{entry.name} is registered without sample arguments (register(..., sample=))")
    sample = entry.sample(ctx)
    return entry.build(**{**sample.kwargs, **overrides}), sample


def invoke(entry: MethodEntry, obj: Any, sample: Sample, ctx: SampleContext) -> Any:
    """Run the method once the way its kind is used in training; return what it produced."""
    torch.manual_seed(1234)  # methods that draw from the global generator draw the same numbers
    kind = entry.kind
    if kind is Kind.PENALTY:
        return obj()
    if kind is Kind.ACTIVITY:
        module, *args = sample.inputs
        module(*args)
        return obj()
    if kind is Kind.OPTIMIZER:
        return obj.step(ctx.closure(obj))
    if kind is Kind.POST_STEP:
        if not hasattr(ctx, "hooked"):
            ctx.hooked = ctx.optimizer()  # type: ignore[attr-defined]
            obj.attach(ctx.hooked)
        ctx.hooked.step(ctx.closure(ctx.hooked))
        return [p.detach().clone() for p in ctx.model.parameters()]
    if kind is Kind.TUNER:  # a tuner object called on its sample problem, if it has one
        return obj(*sample.inputs) if sample.inputs else None
    return obj(*sample.inputs)


def tensors(out: Any) -> list[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in tensors(o)]
    if isinstance(out, dict):
        return [t for o in out.values() for t in tensors(o)]
    return []


def assert_same(a: Any, b: Any, path: str = "") -> None:
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor), path
        torch.testing.assert_close(a, b, rtol=0, atol=0, equal_nan=True, msg=f"differs at {path}")
    elif isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), f"keys differ at {path}"
        for k in a:
            assert_same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"lengths differ at {path}"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{path}[{i}]")
    else:
        assert a == b, f"{a!r} != {b!r} at {path}"


@by_entry
def test_has_sample_arguments(entry: MethodEntry) -> None:
    assert entry.sample is not None, f"{entry.name}: register(..., sample=) is missing"


@by_entry
def test_card_names_paper_and_has_example(entry: MethodEntry) -> None:
    card = entry.card
    assert card, f"{entry.name}: the defining module has no docstring (the method card)"
    assert entry.paper.title.lower() in " ".join(card.lower().split()), "card must name the paper"
    assert ">>>" in card, "card must carry a runnable example (doctest)"


@by_entry
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_runs_in_dtype(entry: MethodEntry, dtype: torch.dtype) -> None:
    ctx = SampleContext(dtype=dtype)
    obj, sample = build(entry, ctx)
    out = invoke(entry, obj, sample, ctx)
    produced = tensors(out) + ([p for p in ctx.model.parameters()] if entry.kind in
                               (Kind.OPTIMIZER, Kind.POST_STEP) else [])
    for t in produced:
        if t.is_floating_point():
            assert t.dtype == dtype, f"output in {t.dtype}, inputs in {dtype}"
            assert torch.isfinite(t).all(), "non-finite output"


@by_entry
def test_bad_arguments_raise_naming_the_argument(entry: MethodEntry) -> None:
    ctx = SampleContext()
    _, sample = build(entry, ctx)
    if not sample.kwargs:
        pytest.skip("no constructor arguments to get wrong")
    assert sample.invalid, f"{entry.name}: Sample.invalid lists no bad arguments"
    for bad in sample.invalid:
        with pytest.raises((ValueError, TypeError)) as info:
            obj, _ = build(entry, SampleContext(), **bad)
            if entry.kind in (Kind.METRIC, Kind.WEIGHTS):  # a function: its arguments meet at the call
                obj(*sample.inputs)
        named = [k for k in bad if k in str(info.value)]
        assert named, f"error for {bad} does not name the argument: {info.value}"


@by_entry
def test_state_dict_round_trip_resumes_identically(entry: MethodEntry) -> None:
    if entry.kind not in STATEFUL:
        pytest.skip(f"{entry.kind.value} entries are stateless functions")
    ctx = SampleContext()
    obj, sample = build(entry, ctx)
    invoke(entry, obj, sample, ctx)  # move the state away from its initial value
    state = copy.deepcopy(obj.state_dict())

    ctx2 = SampleContext()
    obj2, sample2 = build(entry, ctx2)
    ctx2.model.load_state_dict(ctx.model.state_dict())
    ctx2.cnn.load_state_dict(ctx.cnn.state_dict())
    obj2.load_state_dict(state)
    assert_same(obj.state_dict(), obj2.state_dict(), "state_dict")
    if entry.kind is Kind.POST_STEP:
        ctx2.hooked = ctx2.optimizer()  # type: ignore[attr-defined]
        # load_state_dict keeps the very tensors it is given: copy them, or both runs share them
        ctx2.hooked.load_state_dict(copy.deepcopy(ctx.hooked.state_dict()))  # type: ignore[attr-defined]
        obj2.attach(ctx2.hooked)  # type: ignore[attr-defined]
    assert_same(invoke(entry, obj, sample, ctx), invoke(entry, obj2, sample2, ctx2), "next output")
    assert_same(ctx.model.state_dict(), ctx2.model.state_dict(), "model after resume")


def _grads(model: nn.Module) -> list[torch.Tensor]:
    return [torch.zeros_like(p) if p.grad is None else p.grad.clone() for p in model.parameters()]


@by_entry
def test_identity_setting_changes_nothing(entry: MethodEntry) -> None:
    _, sample = build(entry, SampleContext())
    if sample.identity is None:
        pytest.skip("no zero-strength / p=0 setting")
    ctx = SampleContext()
    obj, sample = build(entry, ctx, **sample.identity)
    kind = entry.kind
    if kind in (Kind.PENALTY, Kind.ACTIVITY):
        out = invoke(entry, obj, sample, ctx)
        assert float(out) == 0.0
        if out.requires_grad:
            out.backward()
        assert all(float(g.abs().max()) == 0.0 for g in _grads(ctx.model) + _grads(ctx.cnn))
    elif kind is Kind.TRANSFORM:
        x, y = sample.inputs
        x2, y2 = invoke(entry, obj, sample, ctx)
        assert_same(x2, x, "x")
        torch.testing.assert_close(y2, F.one_hot(y, ctx.num_classes).to(y2.dtype))
    elif kind in (Kind.LOSS, Kind.LAYER):
        assert sample.reference is not None, f"{entry.name}: identity needs Sample.reference"
        torch.testing.assert_close(invoke(entry, obj, sample, ctx), sample.reference(*sample.inputs))
    elif kind in (Kind.OPTIMIZER, Kind.POST_STEP):
        plain = SampleContext()
        opt = plain.optimizer()
        for _ in range(3):
            invoke(entry, obj, sample, ctx)
            opt.step(plain.closure(opt))
        assert_same(ctx.model.state_dict(), plain.model.state_dict(), "parameters")
    else:
        pytest.skip(f"no identity check for {kind.value}")


@by_entry
def test_eval_mode_is_deterministic_identity(entry: MethodEntry) -> None:
    ctx = SampleContext()
    obj, sample = build(entry, ctx)
    if entry.kind not in (Kind.TRANSFORM, Kind.LAYER) or not isinstance(obj, nn.Module):
        pytest.skip("train/eval behaviour applies to transforms and layers")
    obj.eval()
    first, second = invoke(entry, obj, sample, ctx), invoke(entry, obj, sample, ctx)
    assert_same(first, second, "eval output")
    if entry.kind is Kind.TRANSFORM:
        x, y = sample.inputs
        assert_same(first[0], x, "x")
        torch.testing.assert_close(first[1], F.one_hot(y, ctx.num_classes).to(first[1].dtype))
    elif sample.reference is not None:
        torch.testing.assert_close(first, sample.reference(*sample.inputs))


def _hooks(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


@by_entry
def test_activity_penalty_is_silent_in_eval_and_removes_its_hooks(entry: MethodEntry) -> None:
    if entry.kind is not Kind.ACTIVITY:
        pytest.skip("hooks and eval silence apply to activity penalties")
    ctx = SampleContext()
    before = _hooks(ctx.model) + _hooks(ctx.cnn)
    obj, sample = build(entry, ctx)
    module, *args = sample.inputs
    module.eval()
    module(*args)
    out = obj()
    assert float(out) == 0.0 and not out.requires_grad, "a model in eval mode must be silent"
    module.train()
    obj.eval()
    module(*args)
    assert float(obj()) == 0.0, "a penalty in eval mode must be silent"
    obj.train()
    out = invoke(entry, obj, sample, ctx)
    assert out.requires_grad and float(out.detach()) != 0.0
    obj.remove()
    assert _hooks(ctx.model) + _hooks(ctx.cnn) == before, "remove() must take every hook off"
    with entry.build(**sample.kwargs) as obj2:
        assert _hooks(ctx.model) + _hooks(ctx.cnn) > before
    assert _hooks(ctx.model) + _hooks(ctx.cnn) == before, "leaving the with block must remove hooks"
    del obj2


def test_registry_refuses_an_entry_without_sample_in_the_suite() -> None:
    """A method registered without sample arguments makes ``build`` fail the test."""
    entry = MethodEntry("no-sample", registry.Family.LOSS, Kind.LOSS, ENTRIES[0].paper, nn.MSELoss)
    with pytest.raises(pytest.fail.Exception, match="without sample arguments"):
        build(entry, SampleContext())
