"""SMART: smoothness-inducing adversarial regularization with a Bregman proximal point (momentum teacher).

Equation (Jiang et al. 2020, eq. 1-4 and Algorithm 1; classification, ℓ_s = symmetric KL)::

    ℓ_s(P, Q) = KL(P‖Q) + KL(Q‖P) = Σ_k (p_k − q_k)(log p_k − log q_k)                  per example
    R_s(θ)   = mean_i max_{‖x̃_i − x_i‖_∞ ≤ ε} ℓ_s(f(x̃_i; θ), f(x_i; θ))                 smoothness
    D(θ, θ̃)  = mean_i ℓ_s(f(x_i; θ), f(x_i; θ̃))                                       Bregman term
    loss     = CE(f(x; θ), y) + λ_s R_s(θ) + μ D(θ, θ̃_{t−1})
    θ̃_t      = (1 − β) θ_t + β θ̃_{t−1}                                                momentum teacher

The inner max is approximated as in Algorithm 1: x̃ = x + ν with ν ~ N(0, σ²I), then
``steps`` ascent steps x̃ ← Π_ε(x̃ + η g / ‖g‖_∞), g = ∇_x̃ ℓ_s(f(x̃), f(x)), ‖·‖_∞ per example
and Π_ε the projection on the ℓ∞ ball of radius ε around x. The final x̃ is held fixed and
R_s's gradient flows through both f(x̃) and f(x). The teacher f(·; θ̃) runs without gradient.

Extension point: a loss module that holds the model (as ``ELLE`` does), because both terms need
the inputs x and extra forward passes of the model, and the proximal term is a differentiable
function of θ (through the logits), not a rewrite of the optimizer's step: nothing here needs a
closure, so it composes with any optimizer and with ``Recipe`` as ``loss(model(x), y)``. The
teacher θ̃ is a copy of the model's parameters kept as buffers of this module (so it is in
``state_dict()``); it is evaluated with ``torch.func.functional_call`` (the model is not copied)
and updated once per training-mode call, after its logits are read: the call at step t sees
θ̃_{t−1} and then records θ̃_t from the current parameters θ_t.

Arguments:
    model: the ``nn.Module`` being fine-tuned; called on x (for text, pass a model that takes
        embeddings, so x̃ perturbs the embeddings as in the paper).
    strength: λ_s >= 0, a float or a schedule (paper: λ_s ∈ {1, 3, 5}); 0 drops R_s.
    proximal: μ >= 0, the weight of the Bregman term (paper: μ = 1); 0 drops it.
    momentum: β in [0, 1), the teacher's momentum (paper: β = 0.99).
    epsilon: ε > 0, ℓ∞ radius of the perturbation (paper: 1e-5).
    step_size: η > 0, the ascent step (paper: 1e-3).
    noise_std: σ >= 0, the initial noise (paper: 1e-5).
    steps: T_x̃, ascent steps, an integer >= 0 (paper: 1).
    generator: optional ``torch.Generator`` for ν (saved in ``state_dict()``).

Returns:
    ``forward(logits, targets, inputs=None)``: a scalar. ``reglab.functional.symmetric_kl(p, q)``
    is ℓ_s per example (shape (N,)) from two logit tensors (N, K); ``smart_ascent(fn, x, clean,
    noise, ...)`` returns x̃; ``ema_update_(teacher, params, momentum)`` moves θ̃ in place.

Example:
    >>> import torch, reglab as rl
    >>> model = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))
    >>> crit = rl.SMART(model, strength=1.0, proximal=1.0, epsilon=1e-2, step_size=1e-2)
    >>> x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
    >>> loss = crit(model(x), y)            # x recorded by a hook; or crit(model(x), y, inputs=x)
    >>> loss.backward()

Reference:
    Haoming Jiang, Pengcheng He, Weizhu Chen, Xiaodong Liu, Jianfeng Gao, Tuo Zhao.
    SMART: Robust and Efficient Fine-Tuning for Pre-trained Natural Language Models through
    Principled Regularized Optimization. ACL 2020. arXiv:1911.03437. Official code: namisan/mt-dnn.

Traps:
    - Call it once per optimizer step: every training-mode call moves the teacher (with gradient
      accumulation over k micro-batches, use β^(1/k) for the same per-step momentum).
    - The paper's Algorithm 1 updates θ̃ after S inner steps; this is S = 1 (the paper's setting).
    - mt-dnn's code differs from the paper in ways we do not follow: it ascends one-sided KL, it
      divides the updated perturbation by its own ℓ∞ norm (no ε-ball projection), and it
      detaches one side of each KL in the final term. We follow the paper's equations.
    - The ascent passes and the teacher pass are extra forwards of the model in training mode:
      batch-norm statistics see them, and dropout draws differ between f(x) and f(x̃).
    - ε and σ are in input units: with raw pixels or un-normalized features scale them.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from reglab._core.generator_state import GeneratorState
from reglab._core.registry import Family, Kind, Paper, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.schedules import Schedule, Strength
from reglab._core.validation import check_generator, check_int, check_number, check_strength
from reglab.losses._common import check_logits
from reglab.losses._inputs import InputRecorder
from reglab.losses.soft_cross_entropy import soft_cross_entropy

SMART_PAPER = Paper(
    authors="Haoming Jiang, Pengcheng He, Weizhu Chen, Xiaodong Liu, Jianfeng Gao, Tuo Zhao",
    title="SMART: Robust and Efficient Fine-Tuning for Pre-trained Natural Language Models "
          "through Principled Regularized Optimization",
    year=2020,
    arxiv="1911.03437",
)


def symmetric_kl(logits_p: torch.Tensor, logits_q: torch.Tensor) -> torch.Tensor:
    """ℓ_s = KL(P‖Q) + KL(Q‖P) = Σ_k (p_k − q_k)(log p_k − log q_k) per row, shape (...)."""
    log_p, log_q = logits_p.log_softmax(-1), logits_q.log_softmax(-1)
    return ((log_p.exp() - log_q.exp()) * (log_p - log_q)).sum(-1)


def _per_example_max(t: torch.Tensor) -> torch.Tensor:
    return t.abs().reshape(t.shape[0], -1).amax(1).reshape(-1, *([1] * (t.dim() - 1)))


def smart_ascent(
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    clean_logits: torch.Tensor,
    noise: torch.Tensor,
    epsilon: float,
    step_size: float,
    steps: int,
) -> torch.Tensor:
    """x̃ after ``steps`` steps x̃ ← Π_ε(x̃ + η g/‖g‖_∞) from x̃ = x + noise (detached result).

    g = ∇_x̃ Σ_i ℓ_s(fn(x̃)_i, clean_i), ‖g‖_∞ per example; the start is projected too.
    """
    x, clean = x.detach(), clean_logits.detach()
    x_adv = x + noise.to(x.dtype).clamp(-epsilon, epsilon)
    for _ in range(steps):
        x_adv = x_adv.detach().requires_grad_(True)
        with torch.enable_grad():
            (g,) = torch.autograd.grad(symmetric_kl(fn(x_adv), clean).sum(), x_adv)
        step = g / _per_example_max(g).clamp_min(torch.finfo(g.dtype).tiny)
        x_adv = x + (x_adv.detach() + step_size * step - x).clamp(-epsilon, epsilon)
    return x_adv.detach()


@torch.no_grad()
def ema_update_(teacher: list[torch.Tensor], params: list[torch.Tensor], momentum: float) -> None:
    """θ̃ ← (1 − β) θ + β θ̃ in place, tensor by tensor."""
    for t, p in zip(teacher, params):
        t.mul_(momentum).add_(p.detach().to(t.dtype), alpha=1.0 - momentum)


def _sample(ctx: SampleContext) -> Sample:
    return Sample(
        kwargs={"model": ctx.model, "strength": 2.0, "proximal": 1.0, "momentum": 0.5,
                "epsilon": 0.1, "step_size": 0.05, "noise_std": 0.01,
                "generator": torch.Generator().manual_seed(ctx.seed)},
        inputs=(ctx.model(ctx.x), ctx.y, ctx.x),
        invalid=({"strength": -1.0}, {"proximal": -0.5}, {"momentum": 1.0}, {"epsilon": 0.0},
                 {"step_size": 0.0}, {"noise_std": -1.0}, {"steps": -1}, {"model": None},
                 {"generator": 3}),
        identity={"strength": 0.0, "proximal": 0.0},
        reference=lambda logits, y, x: soft_cross_entropy(logits, y),
    )


@register("smart", family=Family.OPTIMIZER, kind=Kind.LOSS, paper=SMART_PAPER, sample=_sample)
class SMART(GeneratorState, nn.Module):
    """CE + λ_s·(adversarial symmetric KL) + μ·(Bregman term to an EMA teacher); see ``reglab.card("smart")``."""

    def __init__(
        self,
        model: nn.Module,
        strength: float | Schedule = 1.0,
        proximal: float = 1.0,
        momentum: float = 0.99,
        epsilon: float = 1e-5,
        step_size: float = 1e-3,
        noise_std: float = 1e-5,
        steps: int = 1,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self.strength = Strength(check_strength("strength", strength))
        self.proximal = check_number("proximal", proximal, low=0.0)
        self.momentum = check_number("momentum", momentum, low=0.0, high=1.0, high_open=True)
        self.epsilon = check_number("epsilon", epsilon, low=0.0, low_open=True)
        self.step_size = check_number("step_size", step_size, low=0.0, low_open=True)
        self.noise_std = check_number("noise_std", noise_std, low=0.0)
        self.steps = check_int("steps", steps, low=0)
        self.generator = check_generator(generator)
        self._model = (model,)  # not a submodule: the model's weights stay out of this state
        self._names = [n for n, _ in model.named_parameters()]
        self._buffers_of = {n: "teacher_" + n.replace(".", "_") for n in self._names}
        for n, p in model.named_parameters():
            self.register_buffer(self._buffers_of[n], p.detach().clone())
        self._inputs = InputRecorder(model)  # the latest training input, for loss(model(x), y)

    def remove(self) -> None:
        """Take the input-recording hook off the model."""
        self._inputs.remove()

    def teacher(self) -> dict[str, torch.Tensor]:
        """θ̃ by parameter name of the model."""
        return {n: getattr(self, b) for n, b in self._buffers_of.items()}

    def _call(self, x: torch.Tensor, params: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        model = self._model[0]
        with self._inputs.paused():
            if params is None:
                return model(x)
            return torch.func.functional_call(model, params, (x,), strict=False)

    def draw(self, x: torch.Tensor) -> torch.Tensor:
        """ν ~ N(0, σ²I) of x's shape (drawn in float64 on the generator's device)."""
        device = self.generator.device if self.generator is not None else x.device
        nu = torch.randn(x.shape, generator=self.generator, device=device, dtype=torch.float64)
        return (self.noise_std * nu).to(device=x.device, dtype=x.dtype)

    def smoothness(self, x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        """R_s: mean ℓ_s(f(x̃), f(x)) at the ascended x̃; ``logits`` = f(x) with its graph."""
        x_adv = smart_ascent(self._call, x, logits, self.draw(x), self.epsilon, self.step_size,
                             self.steps)
        return symmetric_kl(self._call(x_adv), logits).mean()

    def bregman(self, x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        """D(θ, θ̃): mean ℓ_s(f(x; θ), f(x; θ̃)), the teacher run without gradient."""
        with torch.no_grad():
            teacher_logits = self._call(x, self.teacher())
        return symmetric_kl(logits, teacher_logits.to(logits.dtype)).mean()

    def forward(
        self, logits: torch.Tensor, targets: torch.Tensor, inputs: torch.Tensor | None = None
    ) -> torch.Tensor:
        check_logits(logits)
        loss = soft_cross_entropy(logits, targets)
        if not self.training:
            return loss
        lam = self.strength()
        self.strength.advance()
        if lam == 0.0 and self.proximal == 0.0:
            return loss
        x = inputs if inputs is not None else self._inputs.last
        if x is None:
            raise ValueError("SMART needs the model's inputs: call it after a training-mode "
                             "forward of the model, or pass inputs=x")
        x = x.detach()
        if lam != 0.0:
            loss = loss + lam * self.smoothness(x, logits)
        if self.proximal != 0.0:
            loss = loss + self.proximal * self.bregman(x, logits)
        model = self._model[0]
        ema_update_(list(self.teacher().values()), [p for _, p in model.named_parameters()],
                    self.momentum)
        return loss

    def extra_repr(self) -> str:
        return (f"proximal={self.proximal:g}, momentum={self.momentum:g}, epsilon={self.epsilon:g}, "
                f"step_size={self.step_size:g}, noise_std={self.noise_std:g}, steps={self.steps}")
