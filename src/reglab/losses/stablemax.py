"""StableMax cross-entropy: softmax with exp replaced by a function that grows only linearly.

Equation::

    s(x) = x + 1 for x >= 0,   1 / (1 − x) for x < 0
    StableMax(z)_i = s(z_i) / Σ_j s(z_j)
    ℓ = − log StableMax(z)_y        (or − Σ_k t_k log StableMax(z)_k for soft targets t)

Computed in log space, in the logits' own dtype: log s(x) = sign(x)·log(1 + |x|) lies within
±70 for |x| <= 1e30, and the log-normalization is taken as
log p_i = (u_i − u_max) − log1p(Σ_{j ≠ argmax} exp(u_j − u_max)) with u = log s(z), which
keeps the tiny probabilities (and losses near 0) that ``logsumexp`` would round away. In
float32 no overflow or underflow makes the loss NaN or infinite for |logits| up to 1e30, and
the loss is 0 only where its true value is below float32's smallest positive number.

Arguments:
    reduction: "mean" (default), "sum" or "none", as in ``nn.CrossEntropyLoss``.

Returns:
    ``forward(logits, targets)``: logits (..., K); targets integer labels (...) or soft
    targets (..., K) whose rows are probability vectors (NaN, negative entries or a sum away
    from 1 raise ``ValueError``); a scalar (or shape (...) with reduction "none") in the logits' dtype.
    ``reglab.functional.stablemax(x, dim)`` and ``log_stablemax(x, dim)`` are the activation.

Example:
    >>> import torch, reglab as rl
    >>> from reglab.functional import stablemax
    >>> stablemax(torch.tensor([0.0, 1.0, -1.0]), dim=0)   # s = 1, 2, 1/2
    tensor([0.2857, 0.5714, 0.1429])
    >>> crit = rl.StableMaxCrossEntropy()
    >>> z = torch.tensor([[1e4, 0.0, -1e4]])               # softmax CE would be exactly 0 here
    >>> float(crit(z, torch.tensor([0]))) > 0
    True

Reference:
    Lucas Prieto, Melih Barsbey, Pedro A. M. Mediano, Tolga Birdal. Grokking at the Edge of
    Numerical Stability. ICLR 2025. arXiv:2501.04697.

Traps:
    - StableMax is not shift-invariant: s(z + c) ≠ c'·s(z), so the logits' absolute level
      matters, unlike softmax. Use the same activation at evaluation (argmax is unchanged:
      s is increasing, so the predicted class equals softmax's).
    - The reference code casts logits to float64; this form stays in the input dtype (float64 is
      slow on GPUs) and is accurate there, including the near-zero losses of confident fits.
    - The paper's fix targets Softmax Collapse in float32; a loss of exactly 0 with softmax is
      the symptom (its gradient is then exactly 0 too).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from reglab._core.registry import Family, Kind, Paper, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.validation import check_choice
from reglab.losses._common import (
    Reduction,
    check_logits,
    check_targets,
    cross_entropy_from_log_probs,
    reduce,
)

GROKKING = Paper(
    authors="Lucas Prieto, Melih Barsbey, Pedro A. M. Mediano, Tolga Birdal",
    title="Grokking at the Edge of Numerical Stability",
    year=2025,
    arxiv="2501.04697",
)


class _LogS(torch.autograd.Function):
    """log s(x) = sign(x)·log1p(|x|), with derivative 1/(1 + |x|) (also at x = 0)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return torch.copysign(torch.log1p(x.abs()), x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return grad / (1.0 + x.abs())  # differentiable, so double backward works


def _log_normalize(u: torch.Tensor, dim: int) -> torch.Tensor:
    """log softmax(u) along ``dim``, keeping Σ_{j ≠ max} exp(u_j − u_max) even below 1 ulp of 1."""
    u_max, arg = u.max(dim=dim, keepdim=True)
    shifted = u - u_max
    rest = torch.exp(shifted).scatter(dim, arg, 0.0).sum(dim=dim, keepdim=True)
    return shifted - torch.log1p(rest)


def log_stablemax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """log StableMax(x) along ``dim``: log s(x_i) − log Σ_j s(x_j), in x's dtype."""
    return _log_normalize(_LogS.apply(x), dim)


def stablemax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """StableMax(x)_i = s(x_i) / Σ_j s(x_j) along ``dim``; s(x) = x + 1 or 1/(1 − x)."""
    return torch.exp(log_stablemax(x, dim))


def stablemax_cross_entropy(
    logits: torch.Tensor, targets: torch.Tensor, reduction: Reduction | str = "mean"
) -> torch.Tensor:
    """−log StableMax(logits)[y] (labels (...)) or −Σ t log StableMax(logits) (soft (..., K))."""
    check_logits(logits)
    hard = check_targets(logits, targets)
    losses = cross_entropy_from_log_probs(log_stablemax(logits, -1), targets, hard)
    return reduce(losses, reduction)


def _sample(ctx: SampleContext) -> Sample:
    return Sample(
        kwargs={"reduction": "mean"},
        inputs=(ctx.logits, ctx.y),
        invalid=({"reduction": "average"}, {"reduction": None}),
    )


@register("stablemax-ce", family=Family.LOSS, kind=Kind.LOSS, paper=GROKKING, sample=_sample)
class StableMaxCrossEntropy(nn.Module):
    """StableMax cross-entropy; see the module docstring (``reglab.card("stablemax-ce")``)."""

    def __init__(self, reduction: Reduction | str = "mean") -> None:
        super().__init__()
        self.reduction = check_choice("reduction", reduction, Reduction)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return stablemax_cross_entropy(logits, targets, self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction.value!r}"
