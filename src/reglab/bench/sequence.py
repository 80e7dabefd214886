"""Train a run of a task sequence (``permuted-digits``, ``permuted-mnist1d``): tasks one after another.

One network, one optimizer and one ``Recipe`` go through all tasks; each task gets
``steps / num_tasks`` steps of mini-batches of its own (permuted) training set, from one
batch-order stream. The learning-rate schedule runs over the whole sequence. Evaluations every
``eval_every`` steps are on the current task (curves at the global step). At each task's end the
harness records ``task_acc``, ``dead_fraction`` and ``effective_rank`` at x = the task's index
(1..T) and then calls ``Recipe.end_task()``; the final metrics are the last evaluation's plus
``reglab.bench.tasks.permuted.summarize`` of the task ends.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

from reglab.bench import streams
from reglab.bench._config import from_mapping
from reglab.bench.evaluation import evaluate
from reglab.bench.optimizers import OptimizerSpec
from reglab.bench.runs import RunConfig, Status
from reglab.bench.tasks import get_task
from reglab.bench.tasks.permuted import PROBE_SIZE, layer_means, permutations, permute, summarize


def train_sequence(config: RunConfig, cache_dir: Path | None) -> object:
    """The ``RunResult`` of a sequence run (see the module docstring)."""
    from reglab.bench.train import Batches, RunResult, _set_lr, prepare

    task = get_task(config.task)
    options = task.options(config.data)
    per = task.steps_per_task(options, config.steps)  # type: ignore[attr-defined]
    base, x_train, x_test, model, step = prepare(config, cache_dir)
    opt_spec = from_mapping(OptimizerSpec, config.optimizer, "optimizer")
    order = streams.generator(config.seed, streams.Stream.BATCH_ORDER)
    perms = permutations(x_train[0].numel(), options.num_tasks, config.seed)
    curves: list[tuple[int, str, float]] = []
    metrics: dict[str, float] = {}
    ends: list[dict[str, float]] = []
    train_time = eval_time = 0.0
    status, message, t = Status.DONE, "", 0
    model.train()
    for k, perm in enumerate(perms, start=1):
        xs_train, xs_test = permute(x_train, perm), permute(x_test, perm)
        batches = Batches(len(base.y_train), config.batch_size, order)
        losses: list[float] = []
        for _ in range(per):
            t += 1
            idx = batches.next()
            _set_lr(step.optimizer, opt_spec.lr_at(t, config.steps))
            start = time.perf_counter()
            loss = float(step.step(model, xs_train[idx], base.y_train[idx], index=idx))
            train_time += time.perf_counter() - start
            if not math.isfinite(loss):
                status, message = Status.DIVERGED, f"loss became {loss} at step {t} (task {k})"
                metrics["diverged_step"] = float(t)
                break
            losses.append(loss)
            if t % config.eval_every == 0 or t % per == 0:
                clock = time.perf_counter()
                values = evaluate(model, base, xs_train, xs_test)
                eval_time += time.perf_counter() - clock
                values["step_loss"] = sum(losses) / len(losses)
                curves.extend((t, key, v) for key, v in values.items())
                metrics, losses = {**metrics, **values}, []
        if status is not Status.DONE:
            break
        clock = time.perf_counter()
        end = {"task_acc": metrics["test_acc"], **layer_means(model, xs_train[:PROBE_SIZE])}
        eval_time += time.perf_counter() - clock
        curves.extend((k, key, v) for key, v in end.items())
        ends.append(end)
        step.end_task()
    if ends:
        metrics.update(summarize(ends, options.summary_tasks))
    metrics = {**metrics, "train_s": train_time, "eval_s": eval_time}
    return RunResult(status, metrics, curves, message, step_ms=1000 * train_time / max(t, 1))
