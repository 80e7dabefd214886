"""Search one hyperparameter of a recipe on a validation split (``reglab tune``).

A search space is written ``PATH=SCALE:LOW:HIGH``: ``PATH`` is ``methods.I.ARG`` (argument
``ARG`` of the recipe's ``I``-th method) or ``optimizer.KEY`` / ``model.KEY``, ``SCALE`` is
``log`` or ``linear``. A trial is an ordinary run: the recipe with that one value replaced, on
the task with ``validation`` set, so the run's ``test_acc`` is measured on a part of the training
set held out by the split stream (never on the test set). Trial values are rounded to 6
significant digits, so the same value always gives the same run key.

Trials are generated deterministically, which makes a search resumable and free of repeats
through the store alone: the grid is known up front; TPE (Optuna, seeded) is asked ``batch``
trials at a time and told their scores, and a stored run answers a trial without training, so a
killed search, started again, replays the stored trials into the same study and asks the same
next values.

>>> from reglab.bench.recipes import load_recipe
>>> space = parse_space("methods.0.strength=log:1e-4:1e-2")
>>> space.grid(3)
[0.0001, 0.001, 0.01]
>>> with_value(load_recipe("elr"), space.path, 0.5).methods[0].args
{'beta': 0.7, 'strength': 0.5}
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from reglab._core.validation import check_choice, check_int, check_number
from reglab.bench.recipes import MethodSpec, RecipeSpec
from reglab.bench.runs import RunConfig, Settings, resolve

__all__ = [
    "Sampler",
    "Scale",
    "SearchResult",
    "Space",
    "Trial",
    "parse_space",
    "score_plot",
    "search",
    "trial_config",
    "with_value",
]

VALIDATION = 0.2  # fraction of the training set held out to score a trial


class Scale(StrEnum):
    LOG = "log"
    LINEAR = "linear"


class Sampler(StrEnum):
    GRID = "grid"  # evenly spaced on the scale, ends included
    TPE = "tpe"  # Optuna's tree-structured Parzen estimator (pip install 'reglab[tune]')


def _round(value: float) -> float:
    return float(f"{value:.6g}")


@dataclass(frozen=True)
class Space:
    """One hyperparameter: its path in the recipe and a range ``low <= value <= high``."""

    path: str
    scale: Scale
    low: float
    high: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "scale", check_choice("scale", self.scale, Scale))
        check_number("low", self.low)
        check_number("high", self.high, low=self.low)
        if self.scale is Scale.LOG and self.low <= 0:
            raise ValueError(f"low must be > 0 on a log scale, got {self.low}")
        _split_path(self.path)

    @property
    def name(self) -> str:
        return self.path.rsplit(".", 1)[-1]

    def grid(self, points: int) -> list[float]:
        """``points`` values from low to high, evenly spaced on the scale (rounded)."""
        check_int("points", points, low=1)
        if points == 1:
            return [_round(self.low)]
        if self.scale is Scale.LOG:
            lo, hi = math.log10(self.low), math.log10(self.high)
            return [_round(10 ** (lo + (hi - lo) * i / (points - 1))) for i in range(points)]
        return [_round(self.low + (self.high - self.low) * i / (points - 1)) for i in range(points)]


def _split_path(path: str) -> tuple[str, ...]:
    parts = tuple(path.split("."))
    ok = (len(parts) == 3 and parts[0] == "methods" and parts[1].isdigit() and parts[2]) or (
        len(parts) == 2 and parts[0] in ("optimizer", "model") and parts[1]
    )
    if not ok:
        raise ValueError(
            f"parameter path {path!r}: write methods.I.ARG (argument ARG of the I-th method), "
            "optimizer.KEY or model.KEY"
        )
    return parts


def parse_space(text: str) -> Space:
    """``"methods.0.strength=log:1e-5:1e-1"`` -> ``Space``."""
    path, sep, rng = text.partition("=")
    fields_ = rng.split(":")
    if not sep or len(fields_) != 3:
        raise ValueError(
            f"--param {text!r}: write PATH=SCALE:LOW:HIGH, e.g. methods.0.strength=log:1e-5:1e-1"
        )
    try:
        low, high = float(fields_[1]), float(fields_[2])
    except ValueError:
        raise ValueError(f"--param {text!r}: LOW and HIGH must be numbers") from None
    return Space(path.strip(), Scale(check_choice("scale", fields_[0], Scale)), low, high)


def with_value(recipe: RecipeSpec, path: str, value: float) -> RecipeSpec:
    """``recipe`` with the hyperparameter at ``path`` set to ``value`` (named after it)."""
    parts = _split_path(path)
    name = f"{recipe.name} [{parts[-1]}={value:g}]"
    if parts[0] == "methods":
        index = int(parts[1])
        if index >= len(recipe.methods):
            raise ValueError(
                f"parameter path {path!r}: recipe {recipe.name!r} has {len(recipe.methods)} "
                f"method(s), so I must be below {len(recipe.methods)}"
            )
        methods = list(recipe.methods)
        old = methods[index]
        if isinstance(old.args.get(parts[2]), int) and not isinstance(old.args[parts[2]], bool):
            value = round(value)  # an integer argument (Cutout's size) stays an integer
        methods[index] = MethodSpec(old.name, {**old.args, parts[2]: value})
        return replace(recipe, name=name, methods=tuple(methods))
    section = getattr(recipe, parts[0])
    return replace(recipe, name=name, **{parts[0]: {**section, parts[1]: value}})


def trial_config(
    task: str,
    recipe: RecipeSpec,
    path: str,
    value: float,
    seed: int = 0,
    settings: Sequence[Settings] = (),
    validation: float = VALIDATION,
) -> RunConfig:
    """The run scoring ``value``: ``validation`` > 0 scores on the held-out part of train."""
    layers = [*settings, Settings(data={"validation": validation})] if validation else [*settings]
    return resolve(task, with_value(recipe, path, value), seed, layers)


@dataclass(frozen=True)
class Trial:
    value: float
    key: str
    score: float | None  # None: the run diverged or failed


@dataclass
class SearchResult:
    space: Space
    trials: list[Trial] = field(default_factory=list)
    maximize: bool = True

    @property
    def best(self) -> Trial | None:
        scored = [t for t in self.trials if t.score is not None]
        if not scored:
            return None
        sign = 1.0 if self.maximize else -1.0
        return max(scored, key=lambda t: (sign * t.score, -t.value))  # ties: the smaller value


Evaluate = Callable[[Sequence[RunConfig]], Mapping[str, float | None]]


def search(
    space: Space,
    make_config: Callable[[float], RunConfig],
    evaluate: Evaluate,
    trials: int,
    sampler: Sampler = Sampler.GRID,
    seed: int = 0,
    batch: int = 2,
    maximize: bool = True,
) -> SearchResult:
    """Score ``trials`` values of ``space``; ``evaluate(configs)`` runs what the store lacks and
    returns each config's score by key (None when it diverged or failed)."""
    check_int("trials", trials, low=1)
    check_int("batch", batch, low=1)
    sampler = check_choice("sampler", sampler, Sampler)
    result = SearchResult(space, maximize=maximize)
    if sampler is Sampler.GRID:
        configs = {v: make_config(v) for v in space.grid(trials)}
        scores = evaluate(list(configs.values()))
        result.trials = [Trial(v, c.key, scores.get(c.key)) for v, c in configs.items()]
        return result
    optuna = _optuna()
    study = optuna.create_study(
        direction="maximize" if maximize else "minimize",
        sampler=optuna.samplers.TPESampler(seed=seed),
    )
    while len(result.trials) < trials:
        asked = [study.ask() for _ in range(min(batch, trials - len(result.trials)))]
        values = [
            _round(t.suggest_float(space.name, space.low, space.high, log=space.scale is Scale.LOG))
            for t in asked
        ]
        configs = [make_config(v) for v in values]
        scores = evaluate(configs)
        for t, v, c in zip(asked, values, configs):
            score = scores.get(c.key)
            if score is None or not math.isfinite(score):
                study.tell(t, state=optuna.trial.TrialState.FAIL)
                score = None
            else:
                study.tell(t, score)
            result.trials.append(Trial(v, c.key, score))
    return result


def _optuna() -> Any:
    try:
        import optuna
    except ModuleNotFoundError:
        raise ValueError(
            "the tpe sampler needs Optuna: pip install 'reglab[tune]' (or use --sampler grid)"
        ) from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def score_plot(path: Path, result: SearchResult, title: str, metric: str) -> Path:
    """A PNG of each trial's score against its value (log axis on a log scale), best marked."""
    from reglab.bench.plots import _pyplot

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    pts = sorted((t.value, t.score) for t in result.trials if t.score is not None)
    if pts:
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", color="tab:blue", label="trials")
    best = result.best
    if best is not None:
        ax.plot([best.value], [best.score], "*", color="tab:red", markersize=14, label="best")
    failed = [t.value for t in result.trials if t.score is None]
    for v in failed:
        ax.axvline(v, color="tab:gray", linestyle=":", linewidth=1)
    if result.space.scale is Scale.LOG:
        ax.set_xscale("log")
    ax.set_xlabel(result.space.path)
    ax.set_ylabel(f"{metric} (validation)")
    ax.set_title(title + (f" ({len(failed)} failed: dotted)" if failed else ""), fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
