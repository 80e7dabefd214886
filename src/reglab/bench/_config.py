"""Helpers shared by the YAML and option parsers: unknown keys, YAML 1.1 numbers, dataclasses."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from enum import Enum
from typing import Any, TypeVar

from reglab._core.validation import did_you_mean

T = TypeVar("T")

# YAML 1.1 (PyYAML) reads 1e-3 as a string; these are read as numbers instead.
_EXPONENT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")


def numbers(value: Any) -> Any:
    """``value`` with strings such as ``"1e-3"`` turned into floats, recursively."""
    if isinstance(value, str) and _EXPONENT.match(value):
        return float(value)
    if isinstance(value, dict):
        return {k: numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [numbers(v) for v in value]
    return value


def check_keys(mapping: object, allowed: Iterable[str], where: str) -> dict[str, Any]:
    """``mapping`` as a dict; an unknown key raises naming the nearest valid key."""
    if not isinstance(mapping, Mapping):
        raise ValueError(f"{where} must be a mapping, got {type(mapping).__name__}")
    allowed = list(allowed)
    for key in mapping:
        if key not in allowed:
            raise ValueError(
                f"{where}: unknown key {key!r}{did_you_mean(str(key), allowed)}; "
                f"valid keys: {', '.join(allowed)}"
            )
    return dict(mapping)


def from_mapping(cls: type[T], mapping: object, where: str) -> T:
    """Build the dataclass ``cls`` from ``mapping``, refusing unknown keys; lists become tuples."""
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    values = check_keys(mapping if mapping is not None else {}, names, where)
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    try:
        return cls(**values)
    except TypeError as e:  # a value of the wrong type, from a file or the command line
        raise ValueError(str(e)) from None


def as_plain(obj: Any) -> Any:
    """A dataclass (or nested values) as JSON-ready dicts, lists and Enum values."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: as_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, (list, tuple)):
        return [as_plain(v) for v in obj]
    if isinstance(obj, dict):
        return {k: as_plain(v) for k, v in obj.items()}
    return obj
