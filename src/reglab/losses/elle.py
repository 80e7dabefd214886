"""ELLE: a local-linearity penalty on the loss, from three extra forward passes and no double backprop.

Equation (Abad Rocamora et al. 2024, eq. 4-5; ELLE in their Algorithm 1)::

    x_a, x_b ~ U(B_∞(x, ε)),  α ~ U[0, 1],  x_c = α x_a + (1 − α) x_b        per example
    E = mean_i ( ℓ(x_c,i) − α_i ℓ(x_a,i) − (1 − α_i) ℓ(x_b,i) )²             ℓ = per-example CE
    loss = CE(logits, y) + λ E

For a twice-differentiable ℓ, ℓ(x_c) − α ℓ(x_a) − (1 − α) ℓ(x_b) = −½ α(1 − α) dᵀ ∇²ℓ d + O(ε³)
with d = x_a − x_b: E estimates the squared curvature of the loss in the input ball, which
single-step adversarial training (FGSM) must keep small to avoid catastrophic overfitting. Its
gradient needs one ordinary backward pass through the three extra forwards, where the measures
it approximates (GradAlign, LLR) differentiate an input gradient (double backprop).

Extension point: a loss module that holds the model (like ``nn.CrossEntropyLoss`` plus the
model), because the penalty needs the inputs x, the labels and extra forward passes of the
model, and nothing about the optimizer. The inputs come from ``forward(..., inputs=x)`` or,
when not given, from a forward pre-hook that records the model's latest training input, so
``Recipe`` can call it as ``loss(model(x), y)``.

Arguments:
    model: the ``nn.Module`` whose loss is regularized.
    epsilon: ε > 0, the radius of the ℓ∞ ball (the attack's radius, e.g. 8/255 on images).
    strength: λ >= 0, a float or a schedule (the paper uses λ = 5000 on CIFAR-10 with ε = 8/255;
        E is tiny at small ε, so λ is large). λ = 0 is plain cross-entropy.
    generator: optional ``torch.Generator`` for x_a, x_b and α (saved in ``state_dict()``).

Returns:
    ``forward(logits, targets, inputs=None)``: CE(logits, targets) + λ E, a scalar.
    ``reglab.functional.local_linearity_error(loss_a, loss_b, loss_c, alpha)`` is E from the
    three per-example losses; ``ELLE.penalty(x, y)`` is E for the model.

Example:
    >>> import torch, torch.nn.functional as F, reglab as rl
    >>> model = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))
    >>> crit = rl.ELLE(model, epsilon=0.1, strength=100.0)
    >>> x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
    >>> loss = crit(model(x), y)          # x is recorded by the hook; or crit(model(x), y, inputs=x)
    >>> loss.backward()                   # a single ordinary backward pass

Reference:
    Elias Abad Rocamora, Fanghui Liu, Grigorios G. Chrysos, Pablo M. Olmos, Volkan Cevher.
    Efficient local linearity regularization to overcome catastrophic overfitting. ICLR 2024.
    arXiv:2401.11618. Official code: github.com/LIONS-EPFL/ELLE.

Traps:
    - In adversarial training the logits come from the adversarial input, but the points are
      drawn around the clean x: pass ``inputs=x`` (the hook would record x_adv).
    - The points are not clipped to the data range (e.g. [0, 1] images); our reading of the
      method, which defines the ball only.
    - The adaptive variant ELLE-A (λ raised when E spikes) is not built.
    - Cost: three extra forward passes over the batch (x_a, x_b and x_c go through the model in
      one concatenated call, so batch norm sees a batch of 3N).
"""

from __future__ import annotations

import torch
from torch import nn

from reglab._core.generator_state import GeneratorState
from reglab._core.registry import Family, Kind, Paper, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.schedules import Schedule, Strength
from reglab._core.validation import check_generator, check_number, check_strength
from reglab.losses._common import check_logits, check_targets, cross_entropy_from_log_probs
from reglab.losses._inputs import InputRecorder
from reglab.losses.soft_cross_entropy import soft_cross_entropy

ELLE_PAPER = Paper(
    authors="Elias Abad Rocamora, Fanghui Liu, Grigorios G. Chrysos, Pablo M. Olmos, Volkan Cevher",
    title="Efficient local linearity regularization to overcome catastrophic overfitting",
    year=2024,
    arxiv="2401.11618",
)


def local_linearity_error(
    loss_a: torch.Tensor, loss_b: torch.Tensor, loss_c: torch.Tensor, alpha: torch.Tensor
) -> torch.Tensor:
    """E = mean_i (ℓ_c,i − α_i ℓ_a,i − (1 − α_i) ℓ_b,i)² from per-example losses, all of shape (N,)."""
    alpha = alpha.to(loss_c.dtype)
    return (loss_c - alpha * loss_a - (1 - alpha) * loss_b).square().mean()


def elle_points(
    x: torch.Tensor, epsilon: float, u_a: torch.Tensor, u_b: torch.Tensor, alpha: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """x_a = x + ε(2u_a − 1), x_b likewise, x_c = α x_a + (1 − α) x_b; u of x's shape, α (N,)."""
    x_a = x + epsilon * (2 * u_a.to(x.dtype) - 1)
    x_b = x + epsilon * (2 * u_b.to(x.dtype) - 1)
    a = alpha.to(x.dtype).reshape(-1, *([1] * (x.dim() - 1)))
    return x_a, x_b, a * x_a + (1 - a) * x_b


def _sample(ctx: SampleContext) -> Sample:
    return Sample(
        kwargs={"model": ctx.model, "epsilon": 0.5, "strength": 10.0,
                "generator": torch.Generator().manual_seed(ctx.seed)},
        inputs=(ctx.model(ctx.x), ctx.y, ctx.x),
        invalid=({"epsilon": 0.0}, {"strength": -1.0}, {"model": None}, {"generator": 3}),
        identity={"strength": 0.0},
        reference=lambda logits, y, x: soft_cross_entropy(logits, y),
    )


@register(
    "elle",
    family=Family.OPTIMIZER,
    kind=Kind.LOSS,
    paper=ELLE_PAPER,
    sample=_sample,
)
class ELLE(GeneratorState, nn.Module):
    """Cross-entropy + λ·(local-linearity error); see ``reglab.card("elle")``."""

    def __init__(
        self,
        model: nn.Module,
        epsilon: float = 8 / 255,
        strength: float | Schedule = 5000.0,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self.epsilon = check_number("epsilon", epsilon, low=0.0, low_open=True)
        self.strength = Strength(check_strength("strength", strength))
        self.generator = check_generator(generator)
        self._model = (model,)  # not a submodule: the model's weights stay out of this state
        self._inputs = InputRecorder(model)  # the latest training input, for loss(model(x), y)

    def remove(self) -> None:
        """Take the input-recording hook off the model."""
        self._inputs.remove()

    def draw(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """u_a, u_b ~ U[0, 1) of x's shape and α ~ U[0, 1) of shape (N,), in float64."""
        device = self.generator.device if self.generator is not None else x.device
        u = torch.rand((2, *x.shape), generator=self.generator, device=device, dtype=torch.float64)
        alpha = torch.rand(x.shape[0], generator=self.generator, device=device, dtype=torch.float64)
        return u[0].to(x.device), u[1].to(x.device), alpha.to(x.device)

    def penalty(self, x: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """E for the model at inputs ``x`` with labels or soft targets ``targets``."""
        u_a, u_b, alpha = self.draw(x)
        x_a, x_b, x_c = elle_points(x, self.epsilon, u_a, u_b, alpha)
        n = x.shape[0]
        with self._inputs.paused():
            logits = self._model[0](torch.cat([x_a, x_b, x_c]))
        check_logits(logits)
        repeated = targets.repeat(3, *([1] * (targets.dim() - 1)))
        hard = check_targets(logits, repeated)
        losses = cross_entropy_from_log_probs(logits.log_softmax(-1), repeated, hard)
        return local_linearity_error(losses[:n], losses[n:2 * n], losses[2 * n:], alpha)

    def forward(
        self, logits: torch.Tensor, targets: torch.Tensor, inputs: torch.Tensor | None = None
    ) -> torch.Tensor:
        lam = self.strength()
        loss = soft_cross_entropy(logits, targets)
        if not self.training:
            return loss
        self.strength.advance()
        if lam == 0.0:
            return loss
        x = inputs if inputs is not None else self._inputs.last
        if x is None:
            raise ValueError("ELLE needs the model's inputs: call it after a training-mode forward "
                             "of the model, or pass inputs=x")
        return loss + lam * self.penalty(x.detach(), targets)

    def extra_repr(self) -> str:
        return f"epsilon={self.epsilon:g}"
