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

import platform
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from reglab.bench import streams
from reglab.bench._config import from_mapping
from reglab.bench.evaluation import evaluate
from reglab.bench.final_measures import final_measures
from reglab.bench.loop import Batches, Loop, RunResult, Status, build_run, set_lr
from reglab.bench.optimizers import OptimizerSpec
from reglab.bench.run_weights import save_weights
from reglab.bench.runs import RunConfig
from reglab.bench.tasks import get_task


def versions() -> dict[str, str]:
    from reglab import __version__

    return {
        "reglab": __version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def prepare(config: RunConfig, cache_dir: Path | None) -> tuple[Any, ...]:
    """The split, inputs in the model's dtype, the model and the training step of ``config``."""
    return build_run(get_task(config.task), config, cache_dir)


def _train(config: RunConfig, cache_dir: Path | None) -> RunResult:
    task = get_task(config.task)
    own = getattr(task, "train", None)
    if own is not None:  # a task with its own loop: a task sequence, online regression
        return own(config, cache_dir)
    split, x_train, x_test, model, step = build_run(task, config, cache_dir)
    opt_spec = from_mapping(OptimizerSpec, config.optimizer, "optimizer")
    batches = Batches(len(split.y_train), config.batch_size,
                      streams.generator(config.seed, streams.Stream.BATCH_ORDER))

    def one_step(t: int) -> torch.Tensor:
        idx = batches.next()
        set_lr(step.optimizer, opt_spec.lr_at(t, config.steps))
        if batches.size is None:  # full batch: no copy
            return step.step(model, x_train, split.y_train, index=idx)
        return step.step(model, x_train[idx], split.y_train[idx], index=idx)

    def evaluation() -> dict[str, float]:
        return evaluate(model, split, x_train, x_test)

    loop = Loop(config.steps, config.eval_every)
    loop.record(0, loop.measure(evaluation))
    model.train()
    loop.run(one_step, evaluation)
    final: dict[str, float] = {}
    if loop.status is Status.DONE:  # once, on the final model (reglab.bench.final_measures)
        final = loop.measure(
            lambda: final_measures(model, split, x_train, x_test, config.seed, config.measures)
        )
        if task.keep_weights and cache_dir is not None:
            save_weights(cache_dir, config.key, model)
    # seconds in training steps and in evaluations (reglab.bench.timing breaks a sweep down by them)
    return loop.result(final)


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
