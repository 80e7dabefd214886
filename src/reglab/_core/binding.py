"""Build a registered method from its name and arguments inside a training set-up: one route.

Recipes written as data (YAML in the benchmark, callbacks) name methods and their
hyperparameters only. ``bind(name, args, setup)`` is the whole way from such a spec to the
constructed method, in three steps done once each:

1. **resolve** the written arguments: a schedule written as data
   (``{schedule: early, value: 0.1, until: "20%"}``, steps as percentages of the run) becomes a
   ``reglab.schedules`` object, built once here; a ``params`` name (``weights``, ``all``)
   becomes ``reglab.select(model, name)``;
2. **fill** the constructor arguments that come from the set-up, by their conventional names,
   when the constructor has them and the caller did not give them:

   =============  ====================================================================
   ``params``     the model (penalties select its weights)
   ``model``      the model (activity penalties, post-step hooks, surgery)
   ``optimizer``  the optimizer built so far (wrappers wrap it)
   ``generator``  the method's own random stream, when the set-up has one (else left out)
   ``num_classes``, ``num_examples``, ``total_steps``: from the task and the budget
   =============  ====================================================================

3. **build**: the registry entry's constructor. Layer entries with an ``apply`` function are
   model surgery: ``bind`` applies it to the model and returns ``None`` (the layer is then part
   of the model, not of the step).

>>> from torch import nn
>>> model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
>>> pen = bind("l2", {"strength": {"schedule": "early", "value": 0.1, "until": "50%"}},
...            SetUp(model, total_steps=10))
>>> values = []
>>> for _ in range(6):
...     values.append(float(pen.strength())); pen.strength.advance()
>>> pen.selection.names(), values
(('0.weight', '1.weight'), [0.1, 0.1, 0.1, 0.1, 0.1, 0.0])
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from reglab._core import schedules
from reglab._core.registry import Kind, MethodEntry, get
from reglab._core.selection import select
from reglab._core.validation import did_you_mean

CONTEXT_NAMES = (
    "params",
    "model",
    "optimizer",
    "num_classes",
    "num_examples",
    "total_steps",
    "generator",
)
_OPTIONAL = ("generator",)  # filled when the set-up has one; otherwise the method's default
SCHEDULES = ("constant", "linear", "cosine", "step", "early", "late", "quadratic_warmup")
_STEP_ARGS = ("steps", "until", "after", "boundaries")


@dataclass(frozen=True)
class SetUp:
    """What a method can be bound to (``generator``: this method's own random stream)."""

    model: nn.Module
    optimizer: torch.optim.Optimizer | None = None
    num_classes: int | None = None
    num_examples: int | None = None
    total_steps: int | None = None
    generator: torch.Generator | None = None

    def value(self, name: str) -> Any:
        return self.model if name == "params" else getattr(self, name, None)


def is_surgery(entry: MethodEntry) -> bool:
    """A layer (or a weights function such as half-finetuning) with an ``apply`` function:
    applied to the model, not a part of the step."""
    return entry.kind in (Kind.LAYER, Kind.WEIGHTS) and entry.apply is not None


def _target(entry: MethodEntry) -> Callable[..., Any]:
    return entry.apply if is_surgery(entry) and entry.apply is not None else entry.target


def arguments(name: str) -> list[str]:
    """The arguments of ``name`` a spec may name (surgery: all but the model it is applied to)."""
    entry = get(name)
    params = list(inspect.signature(_target(entry)).parameters)
    return params[1:] if is_surgery(entry) else params


def schedule_from_spec(spec: dict[str, Any], total_steps: int | None, where: str) -> Any:
    """``{schedule: NAME, ...}`` as a ``reglab.schedules`` object; "N%" steps are N% of the run."""
    kind = spec.get("schedule")
    if kind not in SCHEDULES:
        raise ValueError(
            f"{where}: unknown schedule {kind!r}{did_you_mean(str(kind), SCHEDULES)}; "
            f"schedules: {', '.join(SCHEDULES)}"
        )
    maker = getattr(schedules, kind)
    allowed = list(inspect.signature(maker).parameters)
    kwargs = {k: v for k, v in spec.items() if k != "schedule"}
    for key in kwargs:
        if key not in allowed:
            raise ValueError(
                f"{where} ({kind} schedule): unknown key {key!r}{did_you_mean(str(key), allowed)}; "
                f"valid keys: {', '.join(allowed)}"
            )

    def steps(value: Any) -> Any:
        if isinstance(value, list):
            return [steps(v) for v in value]
        if not (isinstance(value, str) and value.endswith("%")):
            return value
        if total_steps is None:
            raise ValueError(f"{where}: {value!r} needs the run's total_steps, not given")
        try:
            return round(float(value[:-1]) / 100 * total_steps)
        except ValueError:
            raise ValueError(f"{where}: {value!r} is not a percentage of the run's steps") from None

    return maker(**{k: steps(v) if k in _STEP_ARGS else v for k, v in kwargs.items()})


def resolve(name: str, args: dict[str, Any], setup: SetUp) -> dict[str, Any]:
    """The keyword arguments that build ``name``: ``args`` resolved, then filled from ``setup``."""
    entry = get(name)
    out: dict[str, Any] = {}
    for k, v in args.items():
        if isinstance(v, dict) and "schedule" in v:
            v = schedule_from_spec(v, setup.total_steps, f"{name}.{k}")
        elif k == "params" and isinstance(v, str):
            v = select(setup.model, v)
        out[k] = v
    params = list(inspect.signature(_target(entry)).parameters)
    if is_surgery(entry):
        out[params[0]] = setup.model
    for arg in CONTEXT_NAMES:
        if arg in params and arg not in out:
            value = setup.value(arg)
            if value is None and arg in _OPTIONAL:
                continue
            if value is None:
                raise ValueError(f"{name} needs {arg!r}, which this set-up does not provide")
            out[arg] = value
    return out


def bind(name: str, args: dict[str, Any], setup: SetUp) -> Any:
    """Construct ``name`` from ``args`` as written plus what it needs from ``setup``."""
    entry = get(name)
    kwargs = resolve(name, args, setup)
    if is_surgery(entry) and entry.apply is not None:
        entry.apply(**kwargs)
        return None
    return entry.build(**kwargs)
