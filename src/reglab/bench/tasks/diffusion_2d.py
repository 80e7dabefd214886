"""diffusion-2d: a tiny DDPM on a 2-D Gaussian mixture, scored by sliced Wasserstein to fresh data.

Data: ``modes`` Gaussians of standard deviation ``mode_std`` at equal angles on a circle of
``radius``; ``train_size`` training points per run (the run's split stream). A DDPM (Ho et al.
2020) with T = ``diffusion_steps`` and the linear schedule rescaled to T, β_t from 10⁻⁴·1000/T
to 0.02·1000/T, trains an MLP ε_θ(y_t, t) (input: y_t, t/T and the sine and cosine of t/T at 8
frequencies; ``model.depth`` hidden layers of ``model.width`` SiLU units) on the ε-prediction
loss. With ``gamma`` = γ > 0 the noisy input is DDPM-IP's (Ning et al. 2023,
``reglab.functional.ddpm_ip_input``): y_t = √ᾱ_t x₀ + √(1 − ᾱ_t)(ε + γ ξ) with the target ε;
γ = 0 is plain DDPM. Every arm at a seed draws the same x₀ batches, t, ε and ξ (the run's
``diffusion`` stream).

Sampling is ancestral with σ_t² = β_t over all T steps, from the same starting noise and the
same z's for every arm at a seed (``diffusion-eval`` stream). Metrics: ``sample_swd``, the
sliced Wasserstein-2 distance (``projections`` random directions) between ``eval_samples``
generated points and as many fresh points of the mixture, stratified (each mode's share
exact), a curve every ``eval_every`` steps and final; ``reference_swd``, the same distance from
a fresh unstratified mixture sample (what a perfect sampler scores at this sample size);
``step_loss``, the mean training loss since the last evaluation. Recipes: only methods that
work on any regression step (penalties, optimizer wrappers); a recipe that changes inputs or
targets would change y_t and the time input alike.

>>> opts = TASKS[0].options({"diffusion_steps": 50})
>>> round(float(betas(opts.diffusion_steps)[-1]), 6), mixture(opts, 5, torch.Generator()).shape
(0.4, torch.Size([5, 2]))
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from reglab._core.validation import check_int, check_number
from reglab.bench import streams
from reglab.bench._config import from_mapping
from reglab.bench.loop import Batches, Loop, RunResult, set_lr
from reglab.bench.models import Arch, ModelSpec, Norm
from reglab.bench.optimizers import OptimizerName, OptimizerSpec
from reglab.bench.tasks.base import Budget, DataOptions, Task
from reglab.data.input_noise import ddpm_ip_input

DATA_STREAM, EVAL_STREAM = "diffusion", "diffusion-eval"
DIFFUSION_METRICS = ("sample_swd", "reference_swd")


@dataclass(frozen=True)
class DiffusionOptions(DataOptions):
    """modes >= 1, radius > 0, mode_std > 0, train_size >= 1, diffusion_steps >= 25, gamma >= 0
    (DDPM-IP's γ; 0: plain DDPM), eval_samples >= 2, projections >= 1."""

    modes: int = 8
    radius: float = 2.0
    mode_std: float = 0.05
    train_size: int = 1000
    diffusion_steps: int = 100
    gamma: float = 0.0
    eval_samples: int = 2000
    projections: int = 256

    def __post_init__(self) -> None:
        super().__post_init__()
        check_int("modes", self.modes, low=1)
        check_number("radius", self.radius, low=0, low_open=True)
        check_number("mode_std", self.mode_std, low=0, low_open=True)
        check_int("train_size", self.train_size, low=1)
        check_int("diffusion_steps", self.diffusion_steps, low=25)  # β_T = 20/T < 1
        check_number("gamma", self.gamma, low=0)
        check_int("eval_samples", self.eval_samples, low=2)
        check_int("projections", self.projections, low=1)
        if self.label_noise or self.data_file is not None or self.validation:
            raise ValueError("diffusion-2d has no labels, user data or validation split")


def mixture(options: DiffusionOptions, n: int, generator: torch.Generator,
            stratified: bool = False) -> torch.Tensor:
    """n points (n, 2) of the Gaussian mixture, float64; ``stratified``: modes in turn (equal
    counts, up to one), not drawn at random."""
    k = (torch.arange(n) % options.modes if stratified
         else torch.randint(0, options.modes, (n,), generator=generator))
    angle = 2 * math.pi * k.double() / options.modes
    centers = options.radius * torch.stack([angle.cos(), angle.sin()], 1)
    return centers + options.mode_std * torch.randn(n, 2, generator=generator, dtype=torch.float64)


def sliced_wasserstein(a: torch.Tensor, b: torch.Tensor, directions: torch.Tensor) -> float:
    """SW₂ between equal-size point sets a, b (n, d) over unit ``directions`` (P, d):
    (mean over directions of W₂²(θ·a, θ·b))^½, W₂² in 1-D by matching sorted projections."""
    if a.shape != b.shape:
        raise ValueError(
            f"a and b must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    pa, pb = (torch.sort(p.double() @ directions.double().t(), dim=0).values for p in (a, b))
    return (pa - pb).square().mean().sqrt().item()


def betas(steps: int) -> torch.Tensor:
    """DDPM's linear schedule rescaled to ``steps`` (float64)."""
    scale = 1000 / steps
    return torch.linspace(1e-4 * scale, 0.02 * scale, steps, dtype=torch.float64)


class Denoiser(nn.Module):
    """ε_θ on inputs (N, 3) = (y_t, t/T): sine/cosine features of t, ``depth`` SiLU layers."""

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width_in = 3 + 16
        for _ in range(spec.depth):
            layers += [nn.Linear(width_in, spec.width), nn.SiLU()]
            width_in = spec.width
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(spec.width, 2)
        self.register_buffer("freq", math.pi * torch.arange(1, 9, dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        angle = x[:, 2:3] * self.freq.to(x.dtype)
        return self.head(self.body(torch.cat([x, angle.sin(), angle.cos()], 1)))


def sample(model: nn.Module, options: DiffusionOptions, n: int, generator: torch.Generator,
           dtype: torch.dtype) -> torch.Tensor:
    """n points from ancestral DDPM sampling (σ_t² = β_t), in eval mode without gradients."""
    beta = betas(options.diffusion_steps)
    alpha, alpha_bar = 1 - beta, torch.cumprod(1 - beta, 0)
    x = torch.randn(n, 2, generator=generator, dtype=torch.float64)
    with torch.no_grad():
        for t in reversed(range(options.diffusion_steps)):
            time_in = torch.full((n, 1), (t + 1) / options.diffusion_steps, dtype=torch.float64)
            eps = model(torch.cat([x, time_in], 1).to(dtype)).double()
            x = (x - beta[t] / (1 - alpha_bar[t]).sqrt() * eps) / alpha[t].sqrt()
            if t > 0:
                x = x + beta[t].sqrt() * torch.randn(n, 2, generator=generator, dtype=torch.float64)
    return x


class Diffusion2d(Task):
    """A tiny DDPM on a 2-D mixture; see the module docstring."""

    Options = DiffusionOptions  # type: ignore[assignment]
    model = ModelSpec(Arch.MLP, width=128, depth=3)
    optimizer = OptimizerSpec(OptimizerName.ADAM, lr=1e-3)
    budget = Budget(steps=3000, batch_size=128, eval_every=500)
    archs = (Arch.MLP,)

    def check(self, config: Any, cache_dir: Any) -> None:
        """Build the run's model and training step without training (a sweep checks first)."""
        self._setup(config)

    def _setup(self, config: Any) -> tuple[Any, ...]:
        from reglab.bench.recipes import build_step

        options = self.options(config.data)
        spec = self.check_model(from_mapping(ModelSpec, config.model, "model"))
        if spec.dropout > 0 or spec.norm is not Norm.NONE or not spec.bias:
            raise ValueError("diffusion-2d's denoiser takes model.width, depth and dtype only "
                             "(no dropout, norm or bias: false)")
        torch.manual_seed(streams.seed_of(config.seed, streams.Stream.INIT))
        model = Denoiser(spec).to(spec.torch_dtype)
        opt_spec = from_mapping(OptimizerSpec, config.optimizer, "optimizer")
        step = build_step(config.method_specs(), model, opt_spec, 2, options.train_size,
                          config.steps, seed=config.seed, loss=nn.MSELoss())
        return options, spec, model, opt_spec, step

    def _evaluate(self, model: nn.Module, options: DiffusionOptions, seed: int,
                  dtype: torch.dtype) -> dict[str, float]:
        gen = streams.generator(seed, EVAL_STREAM)  # the same draws at every evaluation and arm
        n = options.eval_samples
        fresh, other = mixture(options, n, gen, stratified=True), mixture(options, n, gen)
        directions = torch.randn(options.projections, 2, generator=gen, dtype=torch.float64)
        directions = directions / directions.norm(dim=1, keepdim=True)
        was_training = model.training
        model.eval()
        try:
            points = sample(model, options, n, gen, dtype)
        finally:
            model.train(was_training)
        reference = sliced_wasserstein(fresh, other, directions)
        if not torch.isfinite(points).all():
            return {"sample_swd": math.inf, "reference_swd": reference}
        return {"sample_swd": sliced_wasserstein(points, fresh, directions),
                "reference_swd": reference}

    def train(self, config: Any, cache_dir: Any) -> RunResult:
        """Train the denoiser for the run's steps (``reglab.bench.train`` calls it)."""
        options, spec, model, opt_spec, step = self._setup(config)
        dtype = spec.torch_dtype
        data = mixture(options, options.train_size,
                       streams.generator(config.seed, streams.Stream.SPLIT))
        gen = streams.generator(config.seed, DATA_STREAM)
        batches = Batches(options.train_size, config.batch_size,
                          streams.generator(config.seed, streams.Stream.BATCH_ORDER))
        alpha_bar = torch.cumprod(1 - betas(options.diffusion_steps), 0)

        def one_step(t: int) -> torch.Tensor:
            x0 = data[batches.next()]
            k = torch.randint(0, options.diffusion_steps, (len(x0),), generator=gen)
            eps = torch.randn(x0.shape, generator=gen, dtype=torch.float64)
            xi = torch.randn(x0.shape, generator=gen, dtype=torch.float64)
            y_t, target = ddpm_ip_input(x0, eps, alpha_bar[k], options.gamma, xi)
            inputs = torch.cat([y_t, ((k + 1) / options.diffusion_steps).double()[:, None]], 1)
            set_lr(step.optimizer, opt_spec.lr_at(t, config.steps))
            return step.step(model, inputs.to(dtype), target.to(dtype))

        loop = Loop(config.steps, config.eval_every)
        model.train()
        loop.run(one_step, lambda: self._evaluate(model, options, config.seed, dtype))
        return loop.result()


TASKS = (
    Diffusion2d(
        "diffusion-2d",
        "tiny DDPM (T = 100) on 8 Gaussians on a circle, 1000 training points; sliced "
        "Wasserstein-2 of 2000 samples to fresh data; gamma = DDPM-IP's input perturbation",
    ),
)
