"""Execute one run: build the data, model and training step from a ``RunConfig`` and train.

Every random stream comes from the run seed through ``reglab.bench.streams``: the split and
label noise (inside the task), the global generator seeded just before the model is built
(initialization, then the model's own dropout), the mini-batch order, and each stochastic
method's own ``generator=`` (so a wider model does not change Mixup's draws). Training uses one
thread, so a run gives the same numbers in any worker. A NaN/Inf loss ends the run with status
``diverged``; an exception ends it with ``failed`` and the message; Ctrl-C propagates (the
partial run is dropped, nothing of it is written). A task with ``keep_weights`` (fine-tuning)
has the final weights of each ``done`` run saved under the cache folder
(``reglab.bench.run_weights``), keyed by the run.
"""

from __future__ import annotations

import math
import platform
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from reglab.bench import streams
from reglab.bench._config import from_mapping
from reglab.bench.evaluation import evaluate
from reglab.bench.final_measures import final_measures
from reglab.bench.models import ModelSpec, build_model
from reglab.bench.optimizers import OptimizerSpec
from reglab.bench.recipes import build_step
from reglab.bench.run_weights import save_weights
from reglab.bench.runs import RunConfig, Status
from reglab.bench.tasks import get_task


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


def versions() -> dict[str, str]:
    from reglab import __version__

    return {
        "reglab": __version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


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


def prepare(config: RunConfig, cache_dir: Path | None) -> tuple[Any, ...]:
    """The split, inputs in the model's dtype, the model and the training step of ``config``."""
    task = get_task(config.task)
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


def _set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:  # wrappers share their groups with the inner optimizer
        group["lr"] = lr


def _train(config: RunConfig, cache_dir: Path | None) -> RunResult:
    own = getattr(get_task(config.task), "train", None)
    if own is not None:  # a task with its own loop: a task sequence, online regression
        return own(config, cache_dir)
    split, x_train, x_test, model, step = prepare(config, cache_dir)
    opt_spec = from_mapping(OptimizerSpec, config.optimizer, "optimizer")
    order = streams.generator(config.seed, streams.Stream.BATCH_ORDER)
    batches = Batches(len(split.y_train), config.batch_size, order)
    curves: list[tuple[int, str, float]] = []

    def record(at: int, values: dict[str, float]) -> dict[str, float]:
        curves.extend((at, k, v) for k, v in values.items())
        return values

    clock = time.perf_counter()
    metrics = record(0, evaluate(model, split, x_train, x_test))
    eval_time = time.perf_counter() - clock
    losses: list[float] = []
    train_time, status, message = 0.0, Status.DONE, ""
    model.train()
    for t in range(1, config.steps + 1):
        idx = batches.next()
        _set_lr(step.optimizer, opt_spec.lr_at(t, config.steps))
        start = time.perf_counter()
        if batches.size is None:  # full batch: no copy
            loss = float(step.step(model, x_train, split.y_train, index=idx))
        else:
            loss = float(step.step(model, x_train[idx], split.y_train[idx], index=idx))
        train_time += time.perf_counter() - start
        if not math.isfinite(loss):
            status, message = Status.DIVERGED, f"loss became {loss} at step {t}"
            metrics = {**metrics, "diverged_step": float(t)}
            break
        losses.append(loss)
        if t % config.eval_every == 0 or t == config.steps:
            clock = time.perf_counter()
            values = evaluate(model, split, x_train, x_test)
            eval_time += time.perf_counter() - clock
            values["step_loss"] = sum(losses) / len(losses)
            metrics, losses = record(t, values), []
    done = max(t, 1)
    if status is Status.DONE:  # once, on the final model (reglab.bench.final_measures)
        clock = time.perf_counter()
        metrics = {**metrics, **final_measures(model, split, x_train, x_test, config.seed, config.measures)}
        eval_time += time.perf_counter() - clock
        if get_task(config.task).keep_weights and cache_dir is not None:
            save_weights(cache_dir, config.key, model)
    # seconds in training steps and in evaluations (reglab.bench.timing breaks a sweep down by them)
    metrics = {**metrics, "train_s": train_time, "eval_s": eval_time}
    return RunResult(status, metrics, curves, message, step_ms=1000 * train_time / done)


def execute(config: RunConfig, cache_dir: str | Path | None = None) -> RunResult:
    """Run ``config`` to its end; never raises except on Ctrl-C (see the module docstring)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            # double backprop (create_graph=True) warns of a parameter/gradient reference cycle;
            # the step zeroes gradients to None, which breaks it
            warnings.filterwarnings("ignore", message="Using backward\\(\\) with create_graph=True")
            result = _train(config, Path(cache_dir) if cache_dir is not None else None)
    except Exception as e:  # noqa: BLE001  (a failed run is a result, not the end of the sweep)
        last = traceback.extract_tb(e.__traceback__)[-1]
        result = RunResult(
            Status.FAILED,
            message=f"{type(e).__name__}: {e} ({Path(last.filename).name}:{last.lineno})",
        )
    finally:
        torch.set_num_threads(threads)
    result.wall_s = time.perf_counter() - start
    result.versions = versions()
    return result
