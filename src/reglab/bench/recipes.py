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
``num_classes``, ``num_examples``, ``total_steps``, ``generator``) are filled in by
``reglab._core.binding``, the one route from a method spec to the built method;
``params`` may be given as ``weights`` or ``all`` (a ``reglab.select`` name). A strength may be
a schedule, ``{schedule: early, value: 0.1, until: "20%"}``, where step counts written as
percentages are fractions of the run's steps. ``none`` is the baseline recipe: the task's loss
and optimizer with nothing added. Bundled recipes live in ``reglab/bench/recipes/``.

Building a run's step: each stochastic method gets its own ``generator=``, seeded from the
run's seed (``reglab.bench.streams``, the stream ``method-i`` of the i-th method written);
layers with an ``apply`` function are model surgery, applied first;
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

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from torch import nn

from reglab._core.binding import CONTEXT_NAMES, SetUp, arguments, bind, is_surgery
from reglab._core.binding import schedule_from_spec as build_schedule
from reglab._core.recipe import Recipe
from reglab._core.registry import Kind, UnknownNameError, get
from reglab._core.selection import Which
from reglab._core.validation import check_choice, did_you_mean
from reglab.bench import streams
from reglab.bench._config import check_keys, numbers
from reglab.bench.optimizers import OptimizerSpec

BUNDLED = Path(__file__).with_name("recipes")
KEYS = ("name", "description", "optimizer", "model", "methods")
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
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ValueError(
            f"recipe file {path} is not a text file (not UTF-8): not a recipe"
        ) from None
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


def check_method(name: str, args: dict[str, Any], where: str) -> None:
    """The name is registered, usable in a step, and every argument is one of its parameters."""
    entry = get(str(name))
    if entry.kind in _NOT_IN_RECIPES:
        raise ValueError(f"{where}: {name!r} is a {entry.kind.value}, not a training-step method")
    if entry.kind in (Kind.LAYER, Kind.WEIGHTS) and entry.apply is None:
        raise ValueError(
            f"{where}: {entry.kind.value} {name!r} has no apply function (model surgery), so a "
            "recipe cannot add it"
        )
    params = arguments(str(name))
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
        if isinstance(value, dict) and "schedule" in value:  # checked against a 100-step run
            build_schedule(value, total_steps=100, where=f"{where}: {name}.{arg}")


def build_step(
    methods: tuple[MethodSpec, ...] | list[MethodSpec],
    model: nn.Module,
    optimizer: OptimizerSpec,
    num_classes: int,
    num_examples: int,
    total_steps: int,
    seed: int | None = None,
    loss: nn.Module | None = None,
) -> Recipe:
    """Apply the surgery to ``model`` (in place) and return the ``Recipe`` of one training step.

    With a run ``seed``, the method at position i that takes ``generator=`` gets its own
    generator from the stream ``method-i`` (``reglab.bench.streams``); without one, such
    methods draw from PyTorch's global generator. ``loss`` replaces the default cross-entropy
    (regression tasks pass ``nn.MSELoss()``; a recipe with its own loss then fails).
    """
    setups = [
        SetUp(
            model,
            num_classes=num_classes,
            num_examples=num_examples,
            total_steps=total_steps,
            generator=None if seed is None else streams.generator(seed, streams.method_stream(i)),
        )
        for i in range(len(methods))
    ]
    surgery = [i for i, m in enumerate(methods) if is_surgery(get(m.name))]
    for i in surgery:
        bind(methods[i].name, methods[i].args, setups[i])
    opt = optimizer.build(model.parameters())
    parts: list[object] = []
    for i, m in enumerate(methods):
        if i in surgery:
            continue
        built = bind(m.name, m.args, replace(setups[i], optimizer=opt))
        if get(m.name).kind is Kind.OPTIMIZER:
            opt = built
        else:
            parts.append(built)
    return Recipe([*parts, *([loss] if loss is not None else []), opt])
