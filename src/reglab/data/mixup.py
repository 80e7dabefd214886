"""Mixup: train on convex combinations of pairs of examples and of their labels.

Equation::

    λ ~ Beta(α, α),  j = π(i) for a random permutation π of the batch
    x̃_i = λ x_i + (1 − λ) x_j
    ỹ_i = λ y_i + (1 − λ) y_j            (y as one-hot or soft targets, rows sum to 1)

With ``per_sample=False`` one λ serves the whole batch (the paper's form); with
``per_sample=True`` each example draws its own λ_i, vectorized over the batch (no Python loop).
With probability 1 − ``p`` a batch (or, per sample, an example) is left unmixed (λ = 1).

Arguments:
    alpha: α > 0, the Beta concentration. Small α (0.1–0.4) mixes little, α = 1 draws λ
        uniformly. Default 0.2.
    num_classes: K >= 1, needed when ``y`` holds integer labels; ``None`` accepts soft targets
        (N, K) only.
    per_sample: one λ per example (True) or one per batch (False, default).
    p: probability in [0, 1] of mixing a batch (per example with ``per_sample``); default 1.
    generator: optional ``torch.Generator``; its state is saved by ``state_dict()``.
    inplace: False (default) returns a new ``x_mixed``; True writes it into the caller's ``x``
        and returns that tensor, as timm's Mixup does: it overwrites your batch, so only use it
        when nothing reads the unmixed batch afterwards (and not on a leaf that requires grad).
        The mix itself costs the same either way (the partners x[π] are gathered into a new
        tensor in both cases); the in-place form keeps no second batch alive.

Returns:
    ``(x_mixed, targets)``: ``x_mixed`` of x's shape and dtype (``x`` itself with ``inplace``);
    ``targets`` of shape (N, K) in x's dtype, each row summing to 1, always a new tensor. Eval
    mode returns ``x`` itself and the one-hot targets.
    ``reglab.functional.mixup(x, targets, lam, perm)`` is the formula for given λ and π, and
    ``Mixup.draw(batch_size, device)`` returns the λ and π one call would use (the test hook).

Example:
    >>> import torch, reglab as rl
    >>> mix = rl.Mixup(alpha=0.4, num_classes=3, generator=torch.Generator().manual_seed(0))
    >>> x, y = torch.randn(5, 2), torch.tensor([0, 1, 2, 1, 0])
    >>> x2, y2 = mix(x, y)
    >>> y2.shape, bool(torch.allclose(y2.sum(1), torch.ones(5)))
    (torch.Size([5, 3]), True)
    >>> loss = rl.soft_cross_entropy(torch.randn(5, 3), y2)   # train on the soft targets

Reference:
    Hongyi Zhang, Moustapha Cisse, Yann N. Dauphin, David Lopez-Paz. mixup: Beyond Empirical
    Risk Minimization. ICLR 2018. arXiv:1710.09412 (the method).
    Muthu Chidambaram, Rong Ge. On the Limitations of Temperature Scaling for Distributions with
    Overlaps. ICLR 2024. arXiv:2306.00740 (a calibration claim: Mixup beats ERM + temperature
    scaling when classes overlap, e.g. under label noise; not checked by the harness).

Traps:
    - Pairs come from a random permutation of the batch, so odd batch sizes work and an example
      may be paired with itself (then it is unchanged). timm's 'pair' mode needs an even batch;
      its 'elem' mode pairs i with N−1−i instead of a random partner.
    - λ is drawn in float64 through a Dirichlet sampler; for α below about 0.01 gamma underflow
      biases the draws, so keep α >= 0.01.
    - The loss must accept soft targets: ``reglab.soft_cross_entropy``, ``nn.CrossEntropyLoss``
      (torch >= 1.10) or ``reglab.StableMaxCrossEntropy``; not ELR or PS-KD, which need labels.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from reglab._core.registry import Capabilities, Family, Kind, Paper, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.validation import check_bool, check_number, check_probability
from reglab.data._base import RandomTransform

MIXUP = Paper(
    authors="Hongyi Zhang, Moustapha Cisse, Yann N. Dauphin, David Lopez-Paz",
    title="mixup: Beyond Empirical Risk Minimization",
    year=2018,
    arxiv="1710.09412",
)


class MixDraw(NamedTuple):
    """The random quantities of one Mixup call: λ (scalar or one per example) and π."""

    lam: torch.Tensor
    perm: torch.Tensor


def mixup(
    x: torch.Tensor,
    targets: torch.Tensor,
    lam: torch.Tensor | float,
    perm: torch.Tensor,
    inplace: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """x̃ = λ x + (1 − λ) x[π], ỹ = λ y + (1 − λ) y[π] for given λ and permutation π.

    ``lam`` is a scalar (one λ for the batch) or a tensor of shape (N,) (one per example);
    ``targets`` are soft targets (N, K). Returns the mixed inputs and targets; with ``inplace``
    the mixed inputs are written into ``x`` (the targets are never modified).
    """
    lam = torch.as_tensor(lam, dtype=torch.float64, device=x.device)
    if lam.dim() == 1:  # one λ per example: broadcast over the feature dimensions
        lam_x = lam.reshape(-1, *([1] * (x.dim() - 1)))
        lam_y = lam.reshape(-1, 1)
    else:
        lam_x = lam_y = lam
    perm = perm.to(x.device)
    # index_select, not x[perm]: the same rows, gathered by a kernel several times faster on CPU
    partners = x.index_select(0, perm)
    if inplace:  # x + (1 − λ)(x[π] − x)
        x_mixed = x.lerp_(partners, (1.0 - lam_x).to(x.dtype))
    else:  # x[π] + λ(x − x[π]), in place on the fresh copy x[π]
        x_mixed = partners.lerp_(x, lam_x.to(x.dtype))
    y_mixed = targets.index_select(0, perm).lerp_(targets, lam_y.to(targets.dtype))
    return x_mixed, y_mixed


def _sample(ctx: SampleContext) -> Sample:
    return Sample(
        kwargs={
            "alpha": 0.4,
            "num_classes": ctx.num_classes,
            "per_sample": True,
            "generator": torch.Generator().manual_seed(ctx.seed),
        },
        inputs=(ctx.images, ctx.y),
        invalid=(
            {"alpha": 0.0},
            {"alpha": -1.0},
            {"num_classes": 0},
            {"p": 1.5},
            {"per_sample": "yes"},
            {"generator": 3},
            {"inplace": 1},
        ),
        identity={"p": 0.0},
    )


@register(
    "mixup",
    family=Family.BATCH_TRANSFORM,
    kind=Kind.TRANSFORM,
    paper=MIXUP,
    capabilities=Capabilities(changes_targets=True),
    sample=_sample,
)
class Mixup(RandomTransform):
    """Mixup of inputs and soft targets; see the module docstring (``reglab.card("mixup")``)."""

    def __init__(
        self,
        alpha: float = 0.2,
        num_classes: int | None = None,
        per_sample: bool = False,
        p: float = 1.0,
        generator: torch.Generator | None = None,
        inplace: bool = False,
    ) -> None:
        super().__init__(num_classes, generator)
        self.alpha = check_number("alpha", alpha, low=0.0, low_open=True)
        self.per_sample = check_bool("per_sample", per_sample)
        self.p = check_probability("p", p)
        self.inplace = check_bool("inplace", inplace)

    def draw(self, batch_size: int, device: torch.device) -> MixDraw:
        """λ (float64; shape () per batch, (N,) per sample; 1 where not applied) and π."""
        n = batch_size if self.per_sample else 1
        lam = self.beta(self.alpha, n, device)
        if self.p < 1.0:
            lam = torch.where(self.uniform(n, device) < self.p, lam, torch.ones_like(lam))
        perm = self.randperm(batch_size, device)
        return MixDraw(lam if self.per_sample else lam[0], perm)

    def transform(
        self, x: torch.Tensor, targets: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if not x.is_floating_point():
            raise TypeError(f"Mixup needs floating-point inputs x, got {x.dtype}")
        lam, perm = self.draw(x.shape[0], x.device)
        if self.p < 1.0 and bool((lam == 1.0).all()):
            return x, targets
        return mixup(x, targets, lam.to(x.device), perm, inplace=self.inplace)

    def extra_repr(self) -> str:
        return (
            f"alpha={self.alpha:g}, num_classes={self.num_classes}, "
            f"per_sample={self.per_sample}, p={self.p:g}, inplace={self.inplace}"
        )
