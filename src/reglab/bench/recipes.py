"""Recipes as data: YAML files naming registry methods with their arguments.

A recipe file (loaded with ``yaml.safe_load``; unknown keys are refused with the nearest valid
key)::

    name: elr                      # optional, defaults to the file name
    description: ELR against noisy labels
    optimizer: {lr: 1.0e-3}        # optional overrides of the task's base optimizer
    model: {dropout: 0.1}          # optional overrides of the task's model
    methods:                       # registry names, in order; each `name` or `name: {args}`
      - elr: {beta: 0.7, strength: 3.0}

Arguments that the training set-up provides (``params``, ``model``, ``optimizer``,
``num_classes``, ``num_examples``, ``total_steps``) are filled in by ``reglab._core.binding``;
``params`` may be given as ``weights`` or ``all`` (a ``reglab.select`` name). A strength may be
a schedule, ``{schedule: early, value: 0.1, until: "20%"}``, where step counts written as
percentages are fractions of the run's steps. ``none`` is the baseline recipe: the task's loss
and optimizer with nothing added. Bundled recipes live in ``reglab/bench/recipes/``.

Building a run's step: layers with an ``apply`` function are model surgery, applied first;
then the base optimizer is built over the model's parameters; optimizer wrappers wrap it in the
order written; the rest (transforms, loss, penalties, post-step hooks) go to ``reglab.Recipe``.

>>> spec = parse_recipe({"methods": [{"l2": {"strength": 1e-4}}]}, "example")
>>> spec.methods
(MethodSpec(name='l2', args={'strength': 0.0001}),)
>>> parse_recipe({"method": []}, "example")
Traceback (most recent call last):
...
ValueError: recipe 'example': unknown key 'method' (did you mean 'methods' or 'model'?); valid keys: name, description, optimizer, model, methods
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from torch import nn

from reglab import schedules
from reglab._core.binding import CONTEXT_NAMES, SetUp, bind
from reglab._core.recipe import Recipe
from reglab._core.registry import Kind, UnknownNameError, get
from reglab._core.selection import Which, select
from reglab._core.validation import check_choice, did_you_mean
from reglab.bench._config import check_keys, numbers
from reglab.bench.optimizers import OptimizerSpec

BUNDLED = Path(__file__).with_name("recipes")
KEYS = ("name", "description", "optimizer", "model", "methods")
SCHEDULES = ("constant", "linear", "cosine", "step", "early", "late")
_STEP_ARGS = ("steps", "until", "after", "boundaries")
_NOT_IN_RECIPES = (Kind.METRIC, Kind.TUNER)


@dataclass(frozen=True)
class MethodSpec:
    """One registry method and its arguments as written (plain data)."""

    name: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RecipeSpec:
    """A parsed recipe: its methods in order, and its optimizer and model overrides."""

    name: str
    description: str = ""
    methods: tuple[MethodSpec, ...] = ()
    optimizer: dict[str, Any] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)


NONE = RecipeSpec("none", "baseline: the task's loss and optimizer, nothing added")


def bundled_recipes() -> list[str]:
    return sorted(["none", *(p.stem for p in BUNDLED.glob("*.yaml"))])


def load_recipe(ref: str | Path) -> RecipeSpec:
    """A recipe from a path to a .yaml file, or a bundled recipe's name (``none`` included)."""
    ref_str = str(ref)
    if ref_str == "none":
        return NONE
    path = Path(ref_str)
    if path.suffix not in (".yaml", ".yml"):
        if not (BUNDLED / f"{ref_str}.yaml").exists():
            raise UnknownNameError(
                f"unknown recipe {ref_str!r}{did_you_mean(ref_str, bundled_recipes())}; give a "
                f"path to a .yaml file or one of: {', '.join(bundled_recipes())}"
            )
        path = BUNDLED / f"{ref_str}.yaml"
    if not path.exists():
        raise FileNotFoundError(f"recipe file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ValueError(f"recipe file {path} is not valid YAML: {e}") from None
    return parse_recipe(data, path.stem, where=str(path))


def parse_recipe(data: object, default_name: str, where: str | None = None) -> RecipeSpec:
    """Check and convert a recipe mapping; every method name and argument name is checked."""
    where = where or f"recipe {default_name!r}"
    values = check_keys(numbers(data if data is not None else {}), KEYS, where)
    raw = values.get("methods") or []
    if not isinstance(raw, list):
        raise ValueError(f"{where}: 'methods' must be a list of `name` or `name: {{args}}` items")
    methods = tuple(_method(item, where) for item in raw)
    for key in ("optimizer", "model"):
        if not isinstance(values.get(key, {}), dict):
            raise ValueError(f"{where}: {key!r} must be a mapping of overrides")
    return RecipeSpec(
        name=str(values.get("name", default_name)),
        description=str(values.get("description", "")),
        methods=methods,
        optimizer=dict(values.get("optimizer", {})),
        model=dict(values.get("model", {})),
    )


def _method(item: object, where: str) -> MethodSpec:
    if isinstance(item, str):
        name, args = item, {}
    elif isinstance(item, dict) and len(item) == 1:
        name, args = next(iter(item.items()))
        args = {} if args is None else args
    else:
        raise ValueError(f"{where}: each method is `name` or `name: {{args}}`, got {item!r}")
    if not isinstance(args, dict):
        raise ValueError(f"{where}: the arguments of {name!r} must be a mapping, got {args!r}")
    check_method(name, args, where)
    return MethodSpec(str(name), dict(args))


def _signature_of(name: str) -> inspect.Signature:
    entry = get(name)
    target = entry.apply if entry.kind is Kind.LAYER and entry.apply is not None else entry.target
    return inspect.signature(target)


def check_method(name: str, args: dict[str, Any], where: str) -> None:
    """The name is registered, usable in a step, and every argument is one of its parameters."""
    entry = get(str(name))
    if entry.kind in _NOT_IN_RECIPES:
        raise ValueError(f"{where}: {name!r} is a {entry.kind.value}, not a training-step method")
    if entry.kind is Kind.LAYER and entry.apply is None:
        raise ValueError(
            f"{where}: layer {name!r} has no apply function (model surgery), so a recipe cannot add it"
        )
    params = [p for p in _signature_of(name).parameters][1 if entry.kind is Kind.LAYER else 0 :]
    for arg, value in args.items():
        if arg not in params:
            raise ValueError(
                f"{where}: {name!r} has no argument {arg!r}{did_you_mean(str(arg), params)}; arguments: {', '.join(params)}"
            )
        if arg in CONTEXT_NAMES and not (arg == "params" and isinstance(value, str)):
            raise ValueError(
                f"{where}: {name!r} argument {arg!r} is filled in by the harness; leave it out"
            )
        if arg == "params":
            check_choice(f"{where}: {name}.params", value, Which)
        if isinstance(value, dict) and "schedule" in value:
            build_schedule(value, total_steps=100, where=f"{where}: {name}.{arg}")


def build_schedule(spec: dict[str, Any], total_steps: int, where: str) -> schedules.Schedule:
    """``{schedule: NAME, ...}`` as a ``reglab.schedules`` object; "N%" steps are N% of the run."""
    kind = spec.get("schedule")
    if kind not in SCHEDULES:
        raise ValueError(
            f"{where}: unknown schedule {kind!r}{did_you_mean(str(kind), SCHEDULES)}; schedules: {', '.join(SCHEDULES)}"
        )
    maker = getattr(schedules, kind)
    kwargs = check_keys(
        {k: v for k, v in spec.items() if k != "schedule"},
        inspect.signature(maker).parameters,
        f"{where} ({kind} schedule)",
    )

    def steps(value: Any) -> Any:
        if isinstance(value, str) and value.endswith("%"):
            try:
                return round(float(value[:-1]) / 100 * total_steps)
            except ValueError:
                raise ValueError(
                    f"{where}: {value!r} is not a percentage of the run's steps"
                ) from None
        return [steps(v) for v in value] if isinstance(value, list) else value

    return maker(**{k: steps(v) if k in _STEP_ARGS else v for k, v in kwargs.items()})


def resolve_args(
    args: dict[str, Any], model: nn.Module, total_steps: int, where: str
) -> dict[str, Any]:
    """Arguments ready for the constructor: schedules built, a ``params`` name selected."""
    out: dict[str, Any] = {}
    for k, v in args.items():
        if isinstance(v, dict) and "schedule" in v:
            v = build_schedule(v, total_steps, f"{where}.{k}")
        elif k == "params" and isinstance(v, str):
            v = select(model, v)
        out[k] = v
    return out


def build_step(
    methods: tuple[MethodSpec, ...] | list[MethodSpec],
    model: nn.Module,
    optimizer: OptimizerSpec,
    num_classes: int,
    num_examples: int,
    total_steps: int,
) -> Recipe:
    """Apply the surgery to ``model`` (in place) and return the ``Recipe`` of one training step."""
    surgery = [m for m in methods if get(m.name).kind is Kind.LAYER]
    rest = [m for m in methods if get(m.name).kind is not Kind.LAYER]
    for m in surgery:
        bind(m.name, resolve_args(m.args, model, total_steps, m.name), SetUp(model))
    opt = optimizer.build(model.parameters())
    parts: list[object] = []
    for m in rest:
        setup = SetUp(model, opt, num_classes, num_examples, total_steps)
        built = bind(m.name, resolve_args(m.args, model, total_steps, m.name), setup)
        if get(m.name).kind is Kind.OPTIMIZER:
            opt = built
        else:
            parts.append(built)
    return Recipe([*parts, opt])
