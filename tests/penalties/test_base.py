"""Shared penalty plumbing: non-finite parameters are refused with the parameter's name."""

import pytest
import torch
from torch import nn

import reglab as rl


def test_non_finite_parameter_at_construction_names_it():
    model = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 2))
    with torch.no_grad():
        model[1].weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"params must hold finite values: parameter '1.weight'"):
        rl.L1(model, strength=0.1)


@pytest.mark.parametrize("cls", [rl.L1, rl.L2, rl.ElasticNet, rl.Nuclear, rl.SoftOrthogonal, rl.L2Init])
def test_parameter_turning_non_finite_later_raises_at_forward(cls):
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2)).double()
    pen = cls(model, strength=0.1)
    pen()
    with torch.no_grad():
        model[1].weight[1, 0] = float("inf")
    with pytest.raises(ValueError, match=r"parameter '1.weight' has non-finite values"):
        pen()


def test_overflow_with_finite_parameters_is_reported_as_overflow():
    w = torch.full((4, 4), 1e30)
    with pytest.raises(ValueError, match="overflowed torch.float32"):
        rl.L2([w], strength=1.0)()


def test_zero_strength_returns_a_zero_in_the_parameters_dtype():
    w = torch.ones(2, 2, dtype=torch.float64, requires_grad=True)
    out = rl.L1([w], strength=0.0)()
    assert out.dtype == torch.float64 and float(out) == 0.0


def _penalty_entries():
    from reglab._core.registry import Kind, entries

    return [e for e in entries() if e.kind is Kind.PENALTY]


@pytest.mark.parametrize("entry", _penalty_entries(), ids=lambda e: e.name)
@pytest.mark.parametrize("bad", [None, 3, "weights", torch.ones(2, 2)], ids=repr)
def test_every_penalty_names_params_when_it_is_none_or_of_the_wrong_type(entry, bad):
    from reglab._core.samples import SampleContext

    kwargs = dict(entry.sample(SampleContext()).kwargs, params=bad)
    with pytest.raises(TypeError, match=r"^params must be "):
        entry.build(**kwargs)


@pytest.mark.parametrize("entry", _penalty_entries(), ids=lambda e: e.name)
def test_every_penalty_names_any_argument_given_as_none_or_of_the_wrong_type(entry):
    from reglab._core.samples import SampleContext

    kwargs = entry.sample(SampleContext()).kwargs
    for name, default in entry.defaults.items():
        # None is a valid value where it is the default (anchors, generator)
        for bad in ((3j, "x") if default is None else (None, 3j, "x")):
            with pytest.raises((TypeError, ValueError), match=rf"\b{name}\b") as err:
                entry.build(**dict(kwargs, **{name: bad}))
            assert "object is not" not in str(err.value)  # a message of ours, not Python's


def test_l2_none_names_its_argument():
    with pytest.raises(TypeError, match=r"params must be a module, a Selection or an iterable of "
                                        r"tensors, got None \(NoneType\)"):
        rl.L2(None)
