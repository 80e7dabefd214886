"""The parts every training loop of the harness shares: a run's status and result, mini-batch
order, the learning rate, building a run's model and step, and ``Loop``, the loop itself.

``Loop`` runs steps t = first..last of a run. Each step is a function of t returning the
loss (it sets the learning rate, draws its batch and takes the optimizer step); its time is the
run's ``train_s``. A loss that is NaN or infinite ends the run with status ``diverged``, the
message ``loss became {loss} at step {t}`` and the metric ``diverged_step``. After every
``eval_every``-th step and after the last one, an evaluation (timed as ``eval_s``) gives the
metrics, to which the mean loss since the previous record is added (``step_loss``); they are
recorded as curve points (t, name, value) and become the run's metrics. Tasks with a loop of
their own (``train``) build on it; so does the default loop in ``reglab.bench.train``.

>>> losses = iter([0.5, 0.25, 0.125, float("nan")])
>>> loop = Loop(steps=4, eval_every=2)
>>> loop.run(lambda t: next(losses), lambda: {"acc": 1.0})
False
>>> loop.curves
[(2, 'acc', 1.0), (2, 'step_loss', 0.375)]
>>> loop.status.value, loop.message, loop.metrics["diverged_step"]
('diverged', 'loss became nan at step 4', 4.0)

This module imports no task and no run config, so tasks can import it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import torch

from reglab._core.validation import check_int
from reglab.bench import streams
from reglab.bench._config import from_mapping
from reglab.bench.models import ModelSpec, build_model
from reglab.bench.optimizers import OptimizerSpec
from reglab.bench.recipes import build_step

Metrics = dict[str, float]


class Status(StrEnum):
    DONE = "done"
    DIVERGED = "diverged"  # the loss became NaN or infinite
    FAILED = "failed"  # an exception; the message says which


@dataclass
class RunResult:
    """The outcome of one run: status, final metrics, curves (step, metric, value), timings."""

    status: Status
    metrics: dict[str, float] = field(default_factory=dict)
    curves: list[tuple[int, str, float]] = field(default_factory=list)
    message: str = ""
    wall_s: float = 0.0
    step_ms: float | None = None
    versions: dict[str, str] = field(default_factory=dict)


class Batches:
    """Mini-batch indices: a fresh seeded permutation each epoch; the full set when size is None."""

    def __init__(self, n: int, size: int | None, generator: torch.Generator) -> None:
        self.n, self.size = n, size if size is not None and size < n else None
        self.generator = generator
        self.order, self.pos = torch.arange(n), n

    def next(self) -> torch.Tensor:
        if self.size is None:
            return self.order
        if self.pos >= self.n:
            self.order, self.pos = torch.randperm(self.n, generator=self.generator), 0
        idx = self.order[self.pos : self.pos + self.size]
        self.pos += self.size
        return idx


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Set the learning rate of every parameter group of ``optimizer`` to ``lr``."""
    for group in optimizer.param_groups:  # wrappers share their groups with the inner optimizer
        group["lr"] = lr


def build_run(task: Any, config: Any, cache_dir: Path | None) -> tuple[Any, ...]:
    """The split, inputs in the model's dtype, the model and the training step of ``config``
    (a ``RunConfig``) on ``task`` (the task it names)."""
    options = task.options(config.data)
    split = task.load(options, config.seed, cache_dir)
    spec = task.check_model(from_mapping(ModelSpec, config.model, "model"))
    cast = (lambda x: x) if split.vocab is not None else (lambda x: x.to(spec.torch_dtype))
    x_train, x_test = cast(split.x_train), cast(split.x_test)
    torch.manual_seed(streams.seed_of(config.seed, streams.Stream.INIT))
    model = build_model(spec, tuple(split.x_train.shape[1:]), split.num_classes, split.vocab)
    task.start(model, spec, options, cache_dir)  # fine-tuning: pretrained weights, then surgery
    step = build_step(
        config.method_specs(),
        model,
        from_mapping(OptimizerSpec, config.optimizer, "optimizer"),
        split.num_classes,
        len(split.y_train),
        config.steps,
        seed=config.seed,
    )
    return split, x_train, x_test, model, step


class Loop:
    """One run's training loop (see the module docstring): ``steps`` >= 1 in all, an evaluation
    every ``eval_every`` >= 1 steps; ``loss_name`` names the mean loss in the records and
    ``unit`` one step in the divergence message ("example" for online learning)."""

    def __init__(self, steps: int, eval_every: int, loss_name: str = "step_loss", unit: str = "step") -> None:
        check_int("steps", steps, low=1)
        check_int("eval_every", eval_every, low=1)
        self.steps, self.eval_every, self.loss_name, self.unit = steps, eval_every, loss_name, unit
        self.metrics: Metrics = {}
        self.curves: list[tuple[int, str, float]] = []
        self.status, self.message, self.t = Status.DONE, "", 0
        self.train_s = self.eval_s = 0.0
        self._losses: list[float] = []

    def measure(self, evaluate: Callable[[], Metrics]) -> Metrics:
        """``evaluate()``, its time counted in ``eval_s``; nothing is recorded."""
        clock = time.perf_counter()
        values = evaluate()
        self.eval_s += time.perf_counter() - clock
        return values

    def record(self, t: int, values: Metrics) -> None:
        """``values`` as curve points at ``t``; they become the run's metrics."""
        self.curves.extend((t, name, value) for name, value in values.items())
        self.metrics = values

    def add(self, t: int, loss: float, evaluate: Callable[[], Metrics] | None = None,
            last: int | None = None, where: str = "") -> bool:
        """Step ``t``'s loss: False when it is not finite (the run diverged: stop; ``where`` ends
        the message); at every ``eval_every``-th step and at ``last`` (default ``steps``), the
        values of ``evaluate`` (none when None) and the mean loss are recorded."""
        self.t = t
        if not math.isfinite(loss):
            self.status, self.message = Status.DIVERGED, f"loss became {loss} at {self.unit} {t}{where}"
            self.metrics = {**self.metrics, "diverged_step": float(t)}
            return False
        self._losses.append(loss)
        if t % self.eval_every == 0 or t == (self.steps if last is None else last):
            values = self.measure(evaluate) if evaluate is not None else {}
            values[self.loss_name] = sum(self._losses) / len(self._losses)
            self.record(t, values)
            self._losses = []
        return True

    def run(self, step: Callable[[int], Any], evaluate: Callable[[], Metrics] | None,
            first: int = 1, last: int | None = None, where: str = "") -> bool:
        """Steps ``first``..``last`` (default ``steps``), each timed, through ``add``; False when
        the run diverged."""
        for t in range(first, (self.steps if last is None else last) + 1):
            clock = time.perf_counter()
            loss = float(step(t))
            self.train_s += time.perf_counter() - clock
            if not self.add(t, loss, evaluate, last, where):
                return False
        return True

    def result(self, extra: Metrics | None = None) -> RunResult:
        """The run's ``RunResult``: its metrics, then ``extra``, then ``train_s`` and ``eval_s``."""
        metrics = {**self.metrics, **(extra or {}), "train_s": self.train_s, "eval_s": self.eval_s}
        return RunResult(self.status, metrics, self.curves, self.message,
                         step_ms=1000 * self.train_s / max(self.t, 1))
