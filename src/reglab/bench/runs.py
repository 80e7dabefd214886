"""A run: (task, recipe, seed, budget, overrides), resolved to plain data and keyed by its hash.

``resolve`` fills every default, so the key (a hash of the resolved config) is the same however
the run was asked for. Settings are merged in this order, later winning: the task's defaults,
the sweep's or claim's settings, the recipe's own ``optimizer``/``model`` overrides, and an
arm's settings.

>>> config = resolve("digits", load_recipe("none"), seed=0, settings=[Settings(budget={"steps": 5})])
>>> config.steps, config.optimizer["name"], config.model["arch"]
(5, 'adam', 'cnn')
>>> len(config.key)
20

``code_fingerprint()`` names the code that makes a run's numbers: the reglab version plus a hash
of the package's Python sources, leaving out the modules that only display or store results. A
stored run whose fingerprint differs from the running code's was made by other code (stale).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from reglab.bench._config import as_plain, check_keys, from_mapping
from reglab.bench.loop import Status as Status  # a run's status (defined with RunResult)
from reglab.bench.models import ModelSpec
from reglab.bench.optimizers import OptimizerSpec
from reglab.bench.recipes import MethodSpec, RecipeSpec, load_recipe
from reglab.bench.tasks import Budget, get_task
from reglab.bench.user_data import file_digest

BUDGET_KEYS = ("steps", "batch_size", "eval_every", "measures")

@dataclass(frozen=True)
class Settings:
    """Partial overrides of a run: data options, model, optimizer and budget (``batch_size: full``
    means full batch)."""

    data: dict[str, Any] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    optimizer: dict[str, Any] = field(default_factory=dict)
    budget: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_keys(self.budget, BUDGET_KEYS, "budget")


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines a run's result, as plain data."""

    task: str
    data: dict[str, Any]
    model: dict[str, Any]
    optimizer: dict[str, Any]
    recipe: str
    methods: list[dict[str, Any]]
    seed: int
    steps: int
    batch_size: int | None
    eval_every: int
    data_digest: str | None = None  # sha256 of a user's data file
    measures: list[str] = field(default_factory=list)  # optional end-of-run measures, sorted

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def _keyed(self) -> dict[str, Any]:
        """``to_dict`` without an empty ``measures``: runs made before it existed keep their key."""
        d = self.to_dict()
        if not d["measures"]:
            d.pop("measures")
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunConfig:
        return cls(**d)

    @property
    def key(self) -> str:
        """sha256 of the canonical JSON of the config (first 20 hex digits)."""
        text = json.dumps(self._keyed(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:20]

    @property
    def arm_key(self) -> str:
        """The key without the seed: runs that differ only by seed share it."""
        d = self._keyed()
        d.pop("seed")
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:20]

    def method_specs(self) -> tuple[MethodSpec, ...]:
        return tuple(MethodSpec(m["name"], m["args"]) for m in self.methods)


def _budget(value: Any) -> Any:
    return None if value == "full" else value


def resolve(
    task_name: str,
    recipe: RecipeSpec | str,
    seed: int,
    settings: list[Settings] | None = None,
    arm: Settings | None = None,
) -> RunConfig:
    """The resolved config of one run; every option is checked here, before anything runs."""
    task = get_task(task_name)
    spec = load_recipe(recipe) if isinstance(recipe, str) else recipe
    layers = [
        *(settings or []),
        Settings(model=spec.model, optimizer=spec.optimizer),
        *([arm] if arm else []),
    ]
    data: dict[str, Any] = {}
    model = as_plain(task.model)
    optimizer = as_plain(task.optimizer)
    budget = {k: getattr(task.budget, k) for k in BUDGET_KEYS}
    for layer in layers:
        data.update(layer.data)
        model.update(layer.model)
        optimizer.update(layer.optimizer)
        budget.update({k: _budget(v) for k, v in layer.budget.items()})
    options = task.options(data)
    model_spec = task.check_model(from_mapping(ModelSpec, model, "model"))
    opt_spec = from_mapping(OptimizerSpec, optimizer, "optimizer")
    Budget(**budget)
    budget["measures"] = sorted(set(budget["measures"]))
    digest = None
    if options.data_file is not None:
        path = Path(options.data_file)
        if not path.exists():
            raise FileNotFoundError(f"data file {path} does not exist")
        options = task.options({**data, "data_file": str(path.resolve())})
        digest = file_digest(path)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    return RunConfig(
        task=task.name,
        data=as_plain(options),
        model=as_plain(model_spec),
        optimizer=as_plain(opt_spec),
        recipe=spec.name,
        methods=[{"name": m.name, "args": m.args} for m in spec.methods],
        seed=seed,
        data_digest=digest,
        **budget,
    )
