"""Input noise: Gaussian perturbation of the inputs; for diffusion training, DDPM-IP's perturbed noisy input.

Equation, as a batch transform (targets unchanged)::

    x̃ = x + σ ξ,                ξ ~ N(0, I) element-wise

Equation of DDPM-IP (Ning et al. 2023, eq. 8 and Algorithm 1), for diffusion training::

    y_t = √ᾱ_t x₀ + √(1 − ᾱ_t) (ε + γ ξ),      ε, ξ ~ N(0, I) independent
    loss = ‖ε − ε_θ(y_t, t)‖²                   the target stays ε, not ε + γ ξ

The network is trained on noisy inputs that are slightly off the forward process, as its own
predictions are at sampling time (exposure bias); the regression target is not perturbed.
``reglab.functional.ddpm_ip_input(x0, noise, alpha_bar, gamma, xi)`` computes y_t and returns it
with the target ε; ``InputNoise`` is the plain Gaussian perturbation for any (x, y) batch.

Arguments:
    std: σ >= 0, a float or a ``reglab.schedules`` schedule (one step per training call). σ = 0
        returns x itself.
    num_classes: K >= 1, needed when ``y`` holds integer labels; ``None`` accepts soft targets.
    generator: optional ``torch.Generator``; its state is saved by ``state_dict()``.
    (``ddpm_ip_input``) gamma: γ >= 0, 0.1 in the paper (0.1 to 0.15 work; γ = 0 is plain DDPM).

Returns:
    ``InputNoise(x, y)`` returns ``(x̃, targets)``: x̃ of x's shape and dtype, targets (N, K)
    soft targets in x's dtype. Eval mode returns x itself.

Example:
    >>> import torch, reglab as rl
    >>> noise = rl.InputNoise(std=0.1, num_classes=3, generator=torch.Generator().manual_seed(0))
    >>> x, y = torch.zeros(4, 2), torch.tensor([0, 1, 2, 1])
    >>> x2, y2 = noise(x, y)
    >>> x2.shape, bool((x2 != 0).all()), y2[0].tolist()
    (torch.Size([4, 2]), True, [1.0, 0.0, 0.0])
    >>> x0, eps = torch.randn(4, 2), torch.randn(4, 2)
    >>> y_t, target = rl.functional.ddpm_ip_input(x0, eps, torch.full((4,), 0.5), 0.1,
    ...                                           torch.randn(4, 2))
    >>> target is eps
    True

Reference:
    Mang Ning, Enver Sangineto, Angelo Porrello, Simone Calderara, Rita Cucchiara. Input
    Perturbation Reduces Exposure Bias in Diffusion Models. ICML 2023. arXiv:2301.11706.
    Official code: github.com/forever208/DDPM-IP.

Traps:
    - For diffusion the perturbation goes into the noise that builds y_t, scaled by √(1 − ᾱ_t),
      and the target must stay ε: adding σξ to x₀ (``InputNoise`` on clean images) is a
      different regularizer. ``ddpm_ip_input`` is the paper's form.
    - σ is absolute: standardize the inputs first, or choose σ on their scale.
"""

from __future__ import annotations

import torch

from reglab._core.registry import Family, Kind, Paper, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.schedules import Schedule, Strength
from reglab._core.validation import check_number, check_strength
from reglab.data._base import RandomTransform

INPUT_PERTURBATION = Paper(
    authors="Mang Ning, Enver Sangineto, Angelo Porrello, Simone Calderara, Rita Cucchiara",
    title="Input Perturbation Reduces Exposure Bias in Diffusion Models",
    year=2023,
    arxiv="2301.11706",
)


def gaussian_input_noise(x: torch.Tensor, std: float, noise: torch.Tensor) -> torch.Tensor:
    """x + σ ξ for a given standard-normal ``noise`` of x's shape (a new tensor)."""
    return x + std * noise.to(x.dtype)


def ddpm_ip_input(
    x0: torch.Tensor,
    noise: torch.Tensor,
    alpha_bar: torch.Tensor,
    gamma: float,
    xi: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """DDPM-IP: y_t = √ᾱ x₀ + √(1−ᾱ)(ε + γ ξ) and the unperturbed target ε.

    ``x0``, ``noise`` (ε) and ``xi`` (ξ) have the same shape (N, ...); ``alpha_bar`` holds ᾱ_t per
    example, shape (N,), or a scalar. Returns ``(y_t, noise)``.
    """
    gamma = check_number("gamma", gamma, low=0.0)
    if noise.shape != x0.shape or xi.shape != x0.shape:
        raise ValueError(f"noise and xi must have x0's shape {tuple(x0.shape)}, got "
                         f"{tuple(noise.shape)} and {tuple(xi.shape)}")
    a = torch.as_tensor(alpha_bar, dtype=x0.dtype, device=x0.device)
    if a.dim() == 1:
        a = a.reshape(-1, *([1] * (x0.dim() - 1)))
    return a.sqrt() * x0 + (1 - a).sqrt() * (noise + gamma * xi), noise


def _sample(ctx: SampleContext) -> Sample:
    return Sample(
        kwargs={"std": 0.1, "num_classes": ctx.num_classes,
                "generator": torch.Generator().manual_seed(ctx.seed)},
        inputs=(ctx.images, ctx.y),
        invalid=({"std": -0.1}, {"std": float("nan")}, {"num_classes": 0}, {"generator": 3}),
        identity={"std": 0.0},
    )


@register(
    "input-noise",
    family=Family.BATCH_TRANSFORM,
    kind=Kind.TRANSFORM,
    paper=INPUT_PERTURBATION,
    sample=_sample,
)
class InputNoise(RandomTransform):
    """Gaussian input perturbation; see the module docstring (``reglab.card("input-noise")``)."""

    def __init__(
        self,
        std: float | Schedule = 0.1,
        num_classes: int | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(num_classes, generator)
        self.std = Strength(check_strength("std", std))

    def transform(
        self, x: torch.Tensor, targets: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if not x.is_floating_point():
            raise TypeError(f"InputNoise needs floating-point inputs x, got {x.dtype}")
        std = self.std()
        self.std.advance()
        if std == 0.0:
            return x, targets
        xi = torch.randn(x.shape, generator=self.generator, dtype=x.dtype,
                         device=self.draw_device(x.device))
        return gaussian_input_noise(x, std, xi.to(x.device)), targets

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}"
