"""permuted-digits and permuted-mnist1d: a sequence of tasks, each a fixed permutation of the inputs.

Loss of plasticity (Dohare et al. 2024): T tasks are trained one after another on one network,
without resetting it or its optimizer; task k shows the same examples with their input features
reordered by a fixed random permutation π_k (drawn from the run seed's ``task-permutations``
stream, so arms compared at one seed see the same sequence). The run's budget of steps is split
evenly over the tasks (``steps`` must be a multiple of ``num_tasks``); ``Recipe.end_task()`` is
called at each boundary (shrink & perturb at task ends). At the end of each task the harness
records the test accuracy on that task (curve ``task_acc``, indexed by task 1..T: the curve of
accuracy on each new task against the task index) and the plasticity statistics of the hidden
layers on a probe of the task's training inputs (curves ``dead_fraction`` and ``effective_rank``,
means over the hidden layers, ``reglab.plasticity_stats``). Final metrics summarize the first and
the last ``summary_tasks`` tasks (see ``SEQUENCE_METRICS``).

The default model is an MLP (a permutation destroys the locality a CNN relies on).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import nn

from reglab._core.validation import check_int
from reglab.bench import streams
from reglab.bench._config import from_mapping
from reglab.bench.datasets import Split
from reglab.bench.evaluation import evaluate
from reglab.bench.loop import Batches, Loop, RunResult, build_run, set_lr
from reglab.bench.models import Arch, ModelSpec
from reglab.bench.optimizers import OptimizerName, OptimizerSpec
from reglab.bench.tasks.base import Budget
from reglab.bench.tasks.digits import Digits, DigitsOptions
from reglab.bench.tasks.mnist1d import Mnist1d, Mnist1dOptions
from reglab.metrics.plasticity import plasticity_stats

PERMUTATION_STREAM = "task-permutations"
PROBE_SIZE = 512  # training inputs of the current task on which plasticity is measured

# Final metrics of a sequence run (first / last: means over the first / last summary_tasks tasks).
SEQUENCE_METRICS = (
    "first_tasks_acc",  # test accuracy at the end of each of the first tasks
    "last_tasks_acc",  # the same over the last tasks
    "task_acc_drop",  # first_tasks_acc − last_tasks_acc (> 0: plasticity lost)
    "dead_fraction_first",
    "dead_fraction_last",
    "dead_fraction_growth",  # last − first
    "effective_rank_first",
    "effective_rank_last",
    "effective_rank_drop",  # first − last
)
SEQUENCE_CURVES = ("task_acc", "dead_fraction", "effective_rank")  # indexed by task 1..T


def _check_sequence(num_tasks: int, summary_tasks: int) -> None:
    check_int("num_tasks", num_tasks, low=1)
    check_int("summary_tasks", summary_tasks, low=1, high=num_tasks)


@dataclass(frozen=True)
class PermutedDigitsOptions(DigitsOptions):
    """Digits options plus num_tasks >= 1 and summary_tasks in [1, num_tasks]."""

    num_tasks: int = 10
    summary_tasks: int = 2

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_sequence(self.num_tasks, self.summary_tasks)


@dataclass(frozen=True)
class PermutedMnist1dOptions(Mnist1dOptions):
    """mnist1d options plus num_tasks >= 1 and summary_tasks in [1, num_tasks]."""

    num_tasks: int = 10
    summary_tasks: int = 2

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_sequence(self.num_tasks, self.summary_tasks)


def permutations(num_features: int, num_tasks: int, seed: int) -> list[torch.Tensor]:
    """The run's ``num_tasks`` feature permutations (from the run seed's own stream)."""
    g = streams.generator(seed, PERMUTATION_STREAM)
    return [torch.randperm(num_features, generator=g) for _ in range(num_tasks)]


def permute(x: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    """``x`` (N, ...) with its flattened features reordered by ``perm``, in its own shape."""
    return x.reshape(len(x), -1)[:, perm].reshape(x.shape)


def task_split(split: Split, perm: torch.Tensor) -> Split:
    """The task of ``split`` whose inputs are permuted by ``perm`` (labels unchanged)."""
    return replace(split, x_train=permute(split.x_train, perm), x_test=permute(split.x_test, perm))


def layer_means(model: nn.Module, probe: torch.Tensor) -> dict[str, float]:
    """Dead fraction and effective rank of the hidden layers on ``probe``, averaged over layers."""
    stats = plasticity_stats(model, probe)
    if not stats:
        return {"dead_fraction": float("nan"), "effective_rank": float("nan")}
    return {
        key: sum(float(s[key]) for s in stats.values()) / len(stats)
        for key in ("dead_fraction", "effective_rank")
    }


def summarize(per_task: list[dict[str, float]], summary_tasks: int) -> dict[str, float]:
    """The final metrics of ``SEQUENCE_METRICS`` from each task's end-of-task values."""

    def mean(key: str, part: list[dict[str, float]]) -> float:
        return sum(d[key] for d in part) / len(part)

    n = min(summary_tasks, len(per_task))
    first, last = per_task[:n], per_task[-n:]
    out: dict[str, float] = {}
    for key, name in (("task_acc", "tasks_acc"), ("dead_fraction", "dead_fraction"),
                      ("effective_rank", "effective_rank")):
        out[f"first_{name}" if key == "task_acc" else f"{name}_first"] = mean(key, first)
        out[f"last_{name}" if key == "task_acc" else f"{name}_last"] = mean(key, last)
    out["task_acc_drop"] = out["first_tasks_acc"] - out["last_tasks_acc"]
    out["dead_fraction_growth"] = out["dead_fraction_last"] - out["dead_fraction_first"]
    out["effective_rank_drop"] = out["effective_rank_first"] - out["effective_rank_last"]
    return out


class _Sequence:
    """What the trainer asks of a task sequence (mixed into a task class)."""

    def train(self, config: Any, cache_dir: Any) -> RunResult:
        """Run ``config`` through the sequence (``reglab.bench.train`` calls it): one network,
        optimizer and ``Recipe`` through all tasks; each task gets ``steps / num_tasks`` steps of
        mini-batches of its own permuted training set, from one batch-order stream, and the
        learning-rate schedule runs over the whole sequence. Evaluations every ``eval_every``
        steps and at each task's end are on the current task (curves at the global step); at
        each task's end ``task_acc``, ``dead_fraction`` and ``effective_rank`` are recorded at
        x = the task's index (1..T), then ``Recipe.end_task()`` is called. The final metrics are
        the last evaluation's plus ``summarize`` of the task ends."""
        options = self.options(config.data)  # type: ignore[attr-defined]
        per = self.steps_per_task(options, config.steps)
        base, x_train, x_test, model, step = build_run(self, config, cache_dir)
        opt_spec = from_mapping(OptimizerSpec, config.optimizer, "optimizer")
        order = streams.generator(config.seed, streams.Stream.BATCH_ORDER)
        loop = Loop(config.steps, config.eval_every)
        ends: list[dict[str, float]] = []
        model.train()
        for k, perm in enumerate(permutations(x_train[0].numel(), options.num_tasks, config.seed), 1):
            xs_train, xs_test = permute(x_train, perm), permute(x_test, perm)
            batches = Batches(len(base.y_train), config.batch_size, order)

            def one_step(t: int) -> torch.Tensor:  # run within this iteration: its task's data
                idx = batches.next()
                set_lr(step.optimizer, opt_spec.lr_at(t, config.steps))
                return step.step(model, xs_train[idx], base.y_train[idx], index=idx)

            if not loop.run(one_step, lambda: evaluate(model, base, xs_train, xs_test),
                            first=(k - 1) * per + 1, last=k * per, where=f" (task {k})"):
                break
            end = {"task_acc": loop.metrics["test_acc"],
                   **loop.measure(lambda: layer_means(model, xs_train[:PROBE_SIZE]))}
            loop.curves.extend((k, key, v) for key, v in end.items())
            ends.append(end)
            step.end_task()
        return loop.result(summarize(ends, options.summary_tasks) if ends else {})

    def steps_per_task(self, options: Any, steps: int) -> int:
        if steps % options.num_tasks:
            raise ValueError(
                f"budget.steps ({steps}) must be a multiple of num_tasks ({options.num_tasks})"
            )
        return steps // options.num_tasks


class PermutedDigits(_Sequence, Digits):
    """Permuted digits; see the module docstring."""

    Options = PermutedDigitsOptions
    model = ModelSpec(Arch.MLP, width=100, depth=2)
    optimizer = OptimizerSpec(OptimizerName.SGD, lr=0.01)
    budget = Budget(steps=5000, batch_size=16, eval_every=500)
    archs = (Arch.MLP,)


class PermutedMnist1d(_Sequence, Mnist1d):
    """Permuted mnist1d; see the module docstring."""

    Options = PermutedMnist1dOptions
    model = ModelSpec(Arch.MLP, width=100, depth=2)
    optimizer = OptimizerSpec(OptimizerName.SGD, lr=0.01)
    budget = Budget(steps=5000, batch_size=16, eval_every=500)
    archs = (Arch.MLP,)


TASKS = (
    PermutedDigits(
        "permuted-digits",
        "digits as a sequence of 10 tasks, each a fixed random permutation of the 64 pixels; MLP",
    ),
    PermutedMnist1d(
        "permuted-mnist1d",
        "mnist1d as a sequence of 10 tasks, each a fixed random permutation of the 40 features; MLP",
    ),
)
