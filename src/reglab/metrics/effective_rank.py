"""Effective rank (RankMe): exp of the entropy of the normalized singular values of embeddings.

Equation::

    σ = singular values of Z (N × K),   p_k = σ_k / Σ_j σ_j + ε,
    RankMe(Z) = exp( − Σ_k p_k log p_k )

It lies between 1 and min(N, K) (up to ε): a rank-k matrix whose k singular values are equal has
effective rank k. It needs no labels and has no hyperparameters besides ε.

Arguments:
    z: embeddings, a floating tensor of shape (N, K) with N, K >= 1 (rows are examples).
    eps: ε >= 0 added to each normalized singular value, as in the paper (1e-7); 0 gives the
        plain entropy-based effective rank of Roy & Vetterli.

Returns:
    A scalar tensor in ``z``'s dtype.

Example:
    >>> import torch, reglab as rl
    >>> z = torch.eye(6, dtype=torch.float64)[:, :3]        # rank 3, equal singular values
    >>> round(float(rl.effective_rank(z, eps=0.0)), 6)
    3.0

Reference:
    Quentin Garrido, Randall Balestriero, Laurent Najman, Yann LeCun. RankMe: Assessing the
    downstream performance of pretrained self-supervised representations by their rank.
    ICML 2023. arXiv:2210.02885 (section 3, equation 1); Olivier Roy, Martin Vetterli, The
    effective rank: a measure of effective dimensionality, EUSIPCO 2007.

Traps:
    - ε shifts the value slightly: with ε = 1e-7 a rank-k matrix gives k·(1 + O(K ε log ε)),
      not exactly k. Use ``eps=0`` for exact comparisons.
    - The value depends on the scale of each embedding dimension; the paper uses the raw
      embeddings (no centring or whitening), as here.
    - An all-zero ``z`` has no singular value mass: it raises rather than return NaN.
"""

from __future__ import annotations

import torch

from reglab._core.registry import Family, Kind, Paper, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.validation import check_number

RANKME = Paper(
    authors="Quentin Garrido, Randall Balestriero, Laurent Najman, Yann LeCun",
    title="RankMe: Assessing the downstream performance of pretrained self-supervised "
    "representations by their rank",
    year=2023,
    arxiv="2210.02885",
)


def _sample(ctx: SampleContext) -> Sample:
    return Sample(kwargs={"eps": 1e-7}, inputs=(ctx.logits,), invalid=({"eps": -1.0}, {"eps": "small"}))


@register(
    "effective-rank", family=Family.DIAGNOSTIC, kind=Kind.METRIC, paper=RANKME, sample=_sample
)
def effective_rank(z: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """RankMe of embeddings ``z`` (N, K); see the module docstring (``reglab.card("effective-rank")``)."""
    eps = check_number("eps", eps, low=0)
    if not isinstance(z, torch.Tensor) or z.ndim != 2 or not z.is_floating_point() or 0 in z.shape:
        shape = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
        raise ValueError(f"z must be a non-empty floating tensor of shape (N, K), got {shape}")
    sigma = torch.linalg.svdvals(z.detach())
    total = sigma.sum()
    if total <= 0:
        raise ValueError(
            "z has no non-zero singular value (all-zero embeddings): effective rank is undefined"
        )
    p = sigma / total + eps
    return torch.exp(-torch.special.xlogy(p, p).sum())
