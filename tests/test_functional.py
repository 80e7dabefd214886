"""``reglab.functional`` re-exports every package's pure functions, each documented."""

import inspect

import reglab
from reglab import functional


def test_every_exported_function_is_documented_and_unique():
    names = functional.__all__
    assert len(names) == len(set(names)), "two packages export the same functional name"
    for name in names:
        fn = getattr(functional, name)
        assert callable(fn) and inspect.getdoc(fn), f"reglab.functional.{name} lacks a docstring"
        assert fn.__module__.startswith("reglab."), f"{name} comes from {fn.__module__}"


def test_names_exported_in_both_places_are_the_same_object():
    for name in set(functional.__all__) & set(reglab.__all__):
        assert getattr(functional, name) is getattr(reglab, name), name
