"""bit-flipping: Dohare et al.'s slowly-changing regression, online with batch size 1.

Each example x has ``num_inputs`` binary inputs: the first ``flipping`` are a state in which one
bit, chosen uniformly, flips every ``flip_every`` examples; the rest are fresh random bits each
example. The target is a fixed random threshold network: with x̃ = (x, 1),
W ∈ {−1, +1}^(target_hidden × (m+1)) and v ∈ {−1, +1}^target_hidden drawn at random,

    h_i = 1[W_i·x̃ > θ_i],   θ_i = (m+1)·β − S_i   (S_i: the number of negative entries of W_i)
    y   = Σ_i v_i h_i

(our reading of the paper's "LTU" target; β = ``beta``). The learner (an MLP, default one
hidden layer of 5 ReLU units) sees each example once, in order, with one optimizer step per
example (squared error, the recipe's methods added). The run's ``steps`` is the number of
examples and ``eval_every`` the window: the curve ``window_error`` is the mean online squared
error (of the prediction made before the step) over each window, at its last example. Final
metrics: ``window_error`` (the last window), ``early_error`` (mean over the windows of the first
quarter of the run, leaving out the first window, where the network first learns),
``late_error`` (the last quarter), ``error_growth`` = late − early, and ``dead_fraction_last``,
``effective_rank_last`` of the hidden layers on 1024 inputs of the final state.
Flips, random bits and the target come from the run seed's ``bit-flipping`` stream (the same
for every arm at a seed); initialization from its ``init`` stream.

Many seeds at once: ``train_seeds(configs)`` runs configs that differ only by their seed as one
network of stacked weights (``torch.func.stack_module_state`` + ``vmap``: one batched matmul a
layer for all learners, one optimizer over the stacked tensors, whose updates are elementwise and
so per seed), for the plain recipe (no methods; continual backprop's replacements are per
learner and run one seed at a time) and models without dropout or batch norm. Its results are
those of ``train`` per seed (up to float rounding of the batched matmul); the training time
of the batch is shared equally among its runs.

Reference: Shibhansh Dohare et al., Loss of Plasticity in Deep Continual Learning, Nature 632,
2024, arXiv:2306.13812 (slowly-changing regression: m = 20, f = 15, F = 10⁴, 100 target units,
β = 0.7, 5 learner units, 10⁶ examples, error per 4·10⁴ examples).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from reglab._core.validation import check_int, check_number
from reglab.bench import streams
from reglab.bench._config import from_mapping
from reglab.bench.loop import Loop, RunResult, Status, set_lr
from reglab.bench.models import Arch, ModelSpec, Norm, build_model
from reglab.bench.optimizers import OptimizerName, OptimizerSpec
from reglab.bench.tasks.base import Budget, Task
from reglab.bench.tasks.permuted import layer_means

DATA_STREAM = "bit-flipping"
BIT_METRICS = ("window_error", "early_error", "late_error", "error_growth")


@dataclass(frozen=True)
class BitFlippingOptions:
    """num_inputs m >= 2; flipping in [1, m]; flip_every F >= 1; target_hidden >= 1; beta in [0, 1]."""

    num_inputs: int = 20
    flipping: int = 15
    flip_every: int = 10_000
    target_hidden: int = 100
    beta: float = 0.7
    data_file: ClassVar[None] = None  # no user data: the stream is the task

    def __post_init__(self) -> None:
        check_int("num_inputs", self.num_inputs, low=2)
        check_int("flipping", self.flipping, low=1, high=self.num_inputs)
        check_int("flip_every", self.flip_every, low=1)
        check_int("target_hidden", self.target_hidden, low=1)
        check_number("beta", self.beta, low=0, high=1)


def stream(options: BitFlippingOptions, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` examples (x (n, m) in {0, 1}, y (n, 1)) of the sequence, in order."""
    m, f = options.num_inputs, options.flipping
    w = torch.randint(0, 2, (options.target_hidden, m + 1), generator=generator).double() * 2 - 1
    v = torch.randint(0, 2, (options.target_hidden,), generator=generator).double() * 2 - 1
    theta = (m + 1) * options.beta - (w < 0).sum(1).double()
    state = torch.randint(0, 2, (f,), generator=generator).double()
    flips = torch.randint(0, f, (max(n - 1, 0) // options.flip_every,), generator=generator)
    slow = state.repeat(n, 1)
    for j, bit in enumerate(flips.tolist(), start=1):  # flip j happens before example j·F
        slow[j * options.flip_every :, bit] = 1 - slow[j * options.flip_every :, bit]
    fast = torch.randint(0, 2, (n, m - f), generator=generator).double()
    x = torch.cat([slow, fast], 1)
    h = (torch.cat([x, torch.ones(n, 1, dtype=x.dtype)], 1) @ w.T > theta).double()
    return x, (h @ v).unsqueeze(1)


def error_summary(windows: list[float]) -> dict[str, float]:
    """early / late error and their difference from the window errors (see the module docstring)."""
    q = max(1, len(windows) // 4)
    early = windows[1 : q + 1] if len(windows) > 1 else windows
    late = windows[-q:]
    e, lt = sum(early) / len(early), sum(late) / len(late)
    return {"window_error": windows[-1], "early_error": e, "late_error": lt, "error_growth": lt - e}


class BitFlipping(Task):
    """Slowly-changing regression; see the module docstring."""

    Options = BitFlippingOptions  # type: ignore[assignment]
    model = ModelSpec(Arch.MLP, width=5, depth=1)
    optimizer = OptimizerSpec(OptimizerName.SGD, lr=0.01)
    budget = Budget(steps=100_000, batch_size=1, eval_every=10_000)
    archs = (Arch.MLP,)

    def check(self, config: Any, cache_dir: Any) -> None:
        """Build the run's model and training step without training (what a sweep checks first)."""
        self._setup(config)

    def _setup(self, config: Any) -> tuple[Any, ...]:
        from reglab.bench.recipes import build_step

        options = self.options(config.data)
        _check_online(config)
        spec = self.check_model(from_mapping(ModelSpec, config.model, "model"))
        torch.manual_seed(streams.seed_of(config.seed, streams.Stream.INIT))
        model = build_model(spec, (options.num_inputs,), 1)
        opt_spec = from_mapping(OptimizerSpec, config.optimizer, "optimizer")
        step = build_step(config.method_specs(), model, opt_spec, 1, config.steps, config.steps,
                          seed=config.seed, loss=nn.MSELoss())
        return options, spec, model, opt_spec, step

    def train(self, config: Any, cache_dir: Any) -> RunResult:
        """Online training over the run's ``steps`` examples (``reglab.bench.train`` calls it)."""
        options, spec, model, opt_spec, step = self._setup(config)
        x, y = stream(options, config.steps, streams.generator(config.seed, DATA_STREAM))
        x, y = x.to(spec.torch_dtype), y.to(spec.torch_dtype)

        def one_step(t: int) -> torch.Tensor:
            set_lr(step.optimizer, opt_spec.lr_at(t, config.steps))
            return step.step(model, x[t - 1 : t], y[t - 1 : t])

        loop = _loop(config)
        model.train()
        loop.run(one_step, None)
        return _result(loop, model, x, options, loop.train_s)

    def train_seeds(self, configs: Sequence[Any]) -> list[RunResult]:
        """The results of ``configs`` (equal but for the seed) trained as one vectorized run."""
        config = _check_seeds(configs)
        options = self.options(config.data)
        spec = self.check_model(from_mapping(ModelSpec, config.model, "model"))
        if spec.dropout > 0 or spec.norm is Norm.BATCH:
            raise ValueError("train_seeds: models with dropout or batch norm run one seed at a time")
        _check_online(config)
        models = []
        for c in configs:  # each seed's initialization, as train() draws it
            torch.manual_seed(streams.seed_of(c.seed, streams.Stream.INIT))
            models.append(build_model(spec, (options.num_inputs,), 1))
        params, buffers = torch.func.stack_module_state(models)
        base = copy.deepcopy(models[0]).to("meta")

        def forward(p: dict[str, torch.Tensor], b: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
            return torch.func.functional_call(base, (p, b), (x,))

        batched = torch.func.vmap(forward)
        data = [stream(options, config.steps, streams.generator(c.seed, DATA_STREAM)) for c in configs]
        xs = torch.stack([x for x, _ in data]).to(spec.torch_dtype)  # (S, n, m)
        ys = torch.stack([y for _, y in data]).to(spec.torch_dtype)  # (S, n, 1)
        opt_spec = from_mapping(OptimizerSpec, config.optimizer, "optimizer")
        optimizer = opt_spec.build(params.values())
        # one Loop a seed for its records and status; the step (and its time) is shared
        loops = [_loop(config) for _ in configs]
        live = list(range(len(configs)))
        train_time = 0.0
        for t in range(1, config.steps + 1):
            set_lr(optimizer, opt_spec.lr_at(t, config.steps))
            start = time.perf_counter()
            optimizer.zero_grad()
            out = batched(params, buffers, xs[:, t - 1 : t])
            errors = ((out - ys[:, t - 1 : t]) ** 2).mean(dim=(1, 2))  # each seed's MSELoss
            errors.sum().backward()  # the sum: each seed's gradient is its own loss's
            optimizer.step()
            train_time += time.perf_counter() - start
            values = errors.detach().tolist()
            live = [i for i in live if loops[i].add(t, values[i])]
            if not live:
                break
        results = []
        for i, loop in enumerate(loops):
            model = copy.deepcopy(models[i])
            model.load_state_dict({k: v[i].detach() for k, v in {**params, **buffers}.items()})
            results.append(_result(loop, model, xs[i], options, train_time / len(configs)))
        return results


def _check_online(config: Any) -> None:
    if config.batch_size not in (None, 1):
        raise ValueError(f"bit-flipping is online: budget.batch_size must be 1, got {config.batch_size}")


def _check_seeds(configs: Sequence[Any]) -> Any:
    """The shared config of ``configs``, refused unless they differ only by seed and have no methods."""
    if not configs:
        raise ValueError("train_seeds needs at least one config")
    first = configs[0]
    if first.task != "bit-flipping":
        raise ValueError(f"train_seeds runs bit-flipping configs, got task {first.task!r}")
    if first.methods:
        raise ValueError(
            f"train_seeds runs the plain recipe only (no methods), got {[m['name'] for m in first.methods]}"
        )
    shared = {k: v for k, v in first.to_dict().items() if k != "seed"}
    for c in configs[1:]:
        if {k: v for k, v in c.to_dict().items() if k != "seed"} != shared:
            raise ValueError(f"train_seeds: configs must differ only by their seed (seed {c.seed} differs)")
    if len({c.seed for c in configs}) != len(configs):
        raise ValueError("train_seeds: each seed once")
    return first


def _loop(config: Any) -> Loop:
    """The loop of one run: the mean online error of each window is its ``window_error``."""
    return Loop(config.steps, config.eval_every, loss_name="window_error", unit="example")


def _result(loop: Loop, model: nn.Module, x: torch.Tensor, options: BitFlippingOptions,
            train_s: float) -> RunResult:
    """The run's ``RunResult``: the window errors of ``loop`` and the plasticity stats of
    ``model`` on a probe after ``x``; ``train_s`` seconds of training."""
    windows = [value for _, _, value in loop.curves]
    metrics = error_summary(windows) if windows else {}
    if loop.status is Status.DONE:
        probe = torch.cat([x[-1:, : options.flipping].expand(1024, -1),
                           torch.randint(0, 2, (1024, options.num_inputs - options.flipping),
                                         generator=torch.Generator().manual_seed(0)).to(x.dtype)], 1)
        means = layer_means(model, probe)
        metrics.update({"dead_fraction_last": means["dead_fraction"],
                        "effective_rank_last": means["effective_rank"]})
    else:
        metrics["diverged_step"] = float(loop.t)
    metrics.update({"train_s": train_s, "eval_s": 0.0})
    return RunResult(loop.status, metrics, loop.curves, loop.message,
                     step_ms=1000 * train_s / max(loop.t, 1))


TASKS = (
    BitFlipping(
        "bit-flipping",
        "slowly-changing regression: 20 bits, one of the first 15 flips every F examples; online",
    ),
)
