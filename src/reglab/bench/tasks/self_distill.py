"""self-distill-digits: self-distillation without labels (SimDINO-style) on scikit-learn's digits.

A student MLP (the model of the run; its output z ∈ R^out_dim is the representation) and a
teacher, an exponential moving average of the student (momentum ``momentum``, updated after
every optimizer step, no gradients), see two augmented views of each training image (additive
Gaussian noise of standard deviation ``noise`` on the standardized pixels, then a random
fraction ``mask`` of the pixels set to 0, the mean pixel). The loss pulls the student's
normalized output on one view towards the teacher's on the other view, both ways:

    L = mean_i ‖ ẑ_s(v1_i) − ẑ_t(v2_i) ‖²  (and v1, v2 swapped; ẑ = z / ‖z‖)

The student runs once on the concatenated views (2·batch rows), so an activity penalty hooked
on it (``coding-rate`` on module ``""``: the student's output) sees both views' features as one
batch. Nothing in L prevents collapse (every image mapped to one point has zero loss); SimDINO
adds the coding rate of the student's features against it. Labels are never trained on.

Metrics (curves every ``eval_every`` steps and final values):

=============  =========================================================================
feature_rank   effective rank (RankMe, ``reglab.effective_rank``) of the student's
               normalized outputs ẑ on the clean test images (at most ``out_dim``)
test_acc       nearest-class-mean probe: the class means of ẑ over the clean training
               images, each test image given the class of the most similar mean (cosine)
train_acc      the same probe on the training images
step_loss      the mean training loss (L plus the recipe's penalties) since the last record
=============  =========================================================================

Views come from the run seed's ``views`` stream, the batch order from ``batch-order``, the
initialization from ``init`` (the teacher starts as a copy of the student).

Reference: Ziyang Wu et al., Simplifying DINO via Coding Rate Regularization, ICML 2025,
arXiv:2502.10385 (the distance term and the coding-rate term; the multi-crop views, ViT and
DINO head are replaced by noise-and-mask views and an MLP here).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from reglab._core.validation import check_int, check_number
from reglab.bench import streams
from reglab.bench._config import from_mapping
from reglab.bench.loop import Batches, Loop, RunResult, set_lr
from reglab.bench.models import Arch, ModelSpec, build_model
from reglab.bench.optimizers import OptimizerName, OptimizerSpec
from reglab.bench.tasks.base import Budget
from reglab.bench.tasks.digits import Digits, DigitsOptions
from reglab.metrics.effective_rank import effective_rank

VIEW_STREAM = "views"


@dataclass(frozen=True)
class SelfDistillOptions(DigitsOptions):
    """Digits options plus noise >= 0, mask in [0, 1), momentum in [0, 1], out_dim >= 2."""

    noise: float = 0.5
    mask: float = 0.25
    momentum: float = 0.99
    out_dim: int = 32

    def __post_init__(self) -> None:
        super().__post_init__()
        check_number("noise", self.noise, low=0)
        check_number("mask", self.mask, low=0, high=1, high_open=True)
        check_number("momentum", self.momentum, low=0, high=1)
        check_int("out_dim", self.out_dim, low=2)


def views(x: torch.Tensor, noise: float, mask: float, generator: torch.Generator) -> torch.Tensor:
    """One augmented view of ``x``: ``x + noise·N(0, 1)``, then each entry zeroed with prob. ``mask``."""
    eps = torch.randn(x.shape, generator=generator, dtype=x.dtype)
    keep = torch.rand(x.shape, generator=generator) >= mask
    return (x + noise * eps) * keep.to(x.dtype)


class DistillLoss(nn.modules.loss._Loss):
    """mean_i ‖ẑ_s,i − target_i‖² (summed over features): the student's normalized output
    against the teacher's normalized output on the other view (``target``, no gradient)."""

    def forward(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return (F.normalize(out, dim=1) - target).square().sum(1).mean()


@torch.no_grad()
def ema_update(teacher: nn.Module, student: nn.Module, momentum: float) -> None:
    """teacher ← momentum·teacher + (1 − momentum)·student, parameter by parameter."""
    for t, s in zip(teacher.parameters(), student.parameters()):
        t.lerp_(s, 1.0 - momentum)


@torch.no_grad()
def probe(model: nn.Module, x_train: torch.Tensor, y_train: torch.Tensor, x_test: torch.Tensor,
          y_test: torch.Tensor, num_classes: int) -> dict[str, float]:
    """feature_rank and the nearest-class-mean accuracies of the table above (eval mode)."""
    was_training = model.training
    model.eval()
    try:
        z_train, z_test = F.normalize(model(x_train), dim=1), F.normalize(model(x_test), dim=1)
    finally:
        model.train(was_training)
    if not (torch.isfinite(z_train).all() and torch.isfinite(z_test).all()):
        return {"feature_rank": math.nan, "train_acc": math.nan, "test_acc": math.nan}
    means = torch.zeros(num_classes, z_train.shape[1], dtype=z_train.dtype).index_add_(0, y_train, z_train)
    means = F.normalize(means, dim=1)

    def acc(z: torch.Tensor, y: torch.Tensor) -> float:
        return (z @ means.T).argmax(1).eq(y).double().mean().item()

    return {"feature_rank": effective_rank(z_test.double()).item(),
            "train_acc": acc(z_train, y_train), "test_acc": acc(z_test, y_test)}


class SelfDistill(Digits):
    """Self-distillation on digits; see the module docstring."""

    Options = SelfDistillOptions
    model = ModelSpec(Arch.MLP, width=128, depth=2)
    optimizer = OptimizerSpec(OptimizerName.ADAM, lr=1e-3)
    budget = Budget(steps=1000, batch_size=128, eval_every=100)
    archs = (Arch.MLP,)

    def check(self, config: Any, cache_dir: Any) -> None:
        """Build the run's data, student and training step without training (a sweep's check)."""
        self._setup(config, cache_dir)

    def _setup(self, config: Any, cache_dir: Any) -> tuple[Any, ...]:
        from reglab.bench.recipes import build_step

        options = self.options(config.data)
        split = self.load(options, config.seed, cache_dir)
        spec = self.check_model(from_mapping(ModelSpec, config.model, "model"))
        torch.manual_seed(streams.seed_of(config.seed, streams.Stream.INIT))
        student = build_model(spec, tuple(split.x_train.shape[1:]), options.out_dim)
        teacher = copy.deepcopy(student).requires_grad_(False)  # before any hook goes on
        opt_spec = from_mapping(OptimizerSpec, config.optimizer, "optimizer")
        step = build_step(config.method_specs(), student, opt_spec, split.num_classes,
                          len(split.y_train), config.steps, seed=config.seed, loss=DistillLoss())
        return options, split, spec, student, teacher, opt_spec, step

    def train(self, config: Any, cache_dir: Any) -> RunResult:
        """Train the student against its EMA teacher (``reglab.bench.train`` calls it)."""
        options, split, spec, student, teacher, opt_spec, step = self._setup(config, cache_dir)
        x_train, x_test = split.x_train.to(spec.torch_dtype), split.x_test.to(spec.torch_dtype)
        gen = streams.generator(config.seed, VIEW_STREAM)
        batches = Batches(len(split.y_train), config.batch_size,
                          streams.generator(config.seed, streams.Stream.BATCH_ORDER))
        args = (x_train, split.y_train, x_test, split.y_test, split.num_classes)

        def one_step(t: int) -> float:
            x = x_train[batches.next()]
            set_lr(step.optimizer, opt_spec.lr_at(t, config.steps))
            v1, v2 = (views(x, options.noise, options.mask, gen) for _ in range(2))
            with torch.no_grad():
                target = F.normalize(teacher(torch.cat([v2, v1])), dim=1)
            loss = float(step.step(student, torch.cat([v1, v2]), target))
            ema_update(teacher, student, options.momentum)
            return loss

        loop = Loop(config.steps, config.eval_every)
        loop.record(0, loop.measure(lambda: probe(student, *args)))
        student.train()
        teacher.eval()
        loop.run(one_step, lambda: probe(student, *args))
        return loop.result()


TASKS = (
    SelfDistill(
        "self-distill-digits",
        "digits without labels: student MLP vs its EMA teacher on two noisy, masked views",
    ),
)
