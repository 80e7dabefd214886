"""Neural collapse: within-class variability (NC1) and the distance of class means to a simplex ETF (NC2).

Equation (features h_i, labels y_i, C classes present, μ_c class means, μ_G the global mean)::

    Σ_W = (1/N) Σ_i (h_i − μ_{y_i})(h_i − μ_{y_i})ᵀ
    Σ_B = (1/C) Σ_c (μ_c − μ_G)(μ_c − μ_G)ᵀ
    NC1 = Tr(Σ_W Σ_B⁺) / C
    M   = rows μ_c − μ_G (C × d),  G = M Mᵀ
    ETF distance = ‖ G / ‖G‖_F − (I_C − 𝟙𝟙ᵀ/C) / √(C − 1) ‖_F

NC1 is 0 when every feature sits on its class mean. The ETF distance is 0 when the centred class
means have equal norms and pairwise cosines −1/(C−1) (a simplex equiangular tight frame); both
Gram matrices are scaled to unit Frobenius norm, so it lies in [0, 2].

Arguments:
    features: a floating tensor (N, d), one row per example.
    labels: integer class labels (N,); at least two classes must be present.
    rtol: in [0, 1), the relative cut-off of ``torch.linalg.pinv`` for Σ_B⁺ (1e-6).

Returns:
    A dict of scalar tensors in ``features``' dtype: ``nc1`` and ``etf_distance`` (no graph).

Example:
    >>> import torch, reglab as rl
    >>> means = torch.tensor([[1.0, 0.0], [-0.5, 0.75 ** 0.5], [-0.5, -0.75 ** 0.5]])  # simplex
    >>> h, y = means.repeat(4, 1), torch.arange(3).repeat(4)                           # collapsed
    >>> out = rl.neural_collapse(h, y)
    >>> round(float(out["nc1"]), 6), round(float(out["etf_distance"]), 6)
    (0.0, 0.0)

Reference:
    Tom Tirer, Haoxiang Huang, Jonathan Niles-Weed. Perturbation Analysis of Neural Collapse.
    ICML 2023. arXiv:2210.16658 (NC1 = Tr(Σ_W Σ_B⁺)/K). Vardan Papyan, X.Y. Han, David L. Donoho.
    Prevalence of neural collapse during the terminal phase of deep learning training. PNAS 2020.
    arXiv:2008.08186 (NC2, the distance to a simplex ETF).

Traps:
    - μ_G is the mean of all examples, as in Papyan et al.; with unbalanced classes it differs
      from the mean of the class means.
    - Only the classes present in ``labels`` count (C is their number): compute it on a batch
      that holds every class.
"""

from __future__ import annotations

import torch

from reglab._core.registry import Family, Kind, Paper, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.validation import check_number

NC_PAPER = Paper(
    authors="Tom Tirer, Haoxiang Huang, Jonathan Niles-Weed",
    title="Perturbation Analysis of Neural Collapse",
    year=2023,
    arxiv="2210.16658",
)


def _sample(ctx: SampleContext) -> Sample:
    return Sample(kwargs={"rtol": 1e-6}, inputs=(ctx.logits, ctx.y),
                  invalid=({"rtol": -0.1}, {"rtol": 1.0}, {"rtol": "tiny"}))


@register(
    "neural-collapse", family=Family.DIAGNOSTIC, kind=Kind.METRIC, paper=NC_PAPER, sample=_sample
)
def neural_collapse(features: torch.Tensor, labels: torch.Tensor, rtol: float = 1e-6) -> dict[str, torch.Tensor]:
    """NC1 and the simplex-ETF distance of ``features`` (N, d) by ``labels``; see ``reglab.card("neural-collapse")``."""
    rtol = check_number("rtol", rtol, low=0, high=1, high_open=True)
    if not isinstance(features, torch.Tensor) or features.ndim != 2 or not features.is_floating_point():
        shape = tuple(features.shape) if isinstance(features, torch.Tensor) else type(features).__name__
        raise ValueError(f"features must be a floating tensor of shape (N, d), got {shape}")
    if (not isinstance(labels, torch.Tensor) or labels.shape != features.shape[:1]
            or labels.is_floating_point() or labels.is_complex()):
        raise ValueError(f"labels must be integer class labels of shape ({features.shape[0]},)")
    h = features.detach()
    classes, inverse = torch.unique(labels, return_inverse=True)
    c = len(classes)
    if c < 2:
        raise ValueError(f"labels must hold at least two classes, got {c}")
    counts = torch.bincount(inverse, minlength=c).to(h.dtype)
    means = torch.zeros(c, h.shape[1], dtype=h.dtype, device=h.device).index_add_(0, inverse, h)
    means = means / counts[:, None]
    within = h - means[inverse]
    sigma_w = within.mT @ within / h.shape[0]
    m = means - h.mean(0)
    sigma_b = m.mT @ m / c
    nc1 = torch.trace(sigma_w @ torch.linalg.pinv(sigma_b, rtol=rtol, hermitian=True)) / c
    g = m @ m.mT
    eye = torch.eye(c, dtype=h.dtype, device=h.device)
    etf = (eye - 1.0 / c) / (c - 1) ** 0.5
    etf_distance = torch.linalg.matrix_norm(g / torch.linalg.matrix_norm(g) - etf)
    return {"nc1": nc1, "etf_distance": etf_distance}
