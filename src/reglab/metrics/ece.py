"""Expected calibration error (ECE) with equal-width confidence bins.

Equation::

    conf_i = max_k p_ik,   pred_i = argmax_k p_ik,   bins B_m = ((m−1)/M, m/M],  m = 1..M
    ECE = Σ_m (|B_m| / N) · | acc(B_m) − conf(B_m) |

where acc(B_m) and conf(B_m) are the accuracy and the mean confidence of the examples whose
confidence falls in B_m (empty bins contribute nothing). A confidence of exactly 0 goes to the
first bin.

Arguments:
    probs: predicted probabilities, a floating tensor (N, K) with N >= 1 and K >= 2 whose rows
        are probability vectors (no NaN, entries >= 0, summing to 1 within 1e-5 in float32, 1e-6
        in float64); logits are refused: pass ``softmax(logits)``.
    y: true class indices, an integer tensor (N,) with values in [0, K).
    bins: number M of equal-width bins, an integer >= 1 (default 15).

Returns:
    A scalar tensor in [0, 1], in ``probs``' dtype.

Example:
    >>> import torch, reglab as rl
    >>> probs = torch.tensor([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]])
    >>> y = torch.tensor([0, 1, 1])
    >>> round(float(rl.ece(probs, y, bins=10)), 4)   # (|1 − .9| + |0 − .6| + |1 − .8|) / 3
    0.3

Reference:
    Muthu Chidambaram, Rong Ge. On the Limitations of Temperature Scaling for Distributions with
    Overlaps. ICLR 2024. arXiv:2306.00740 (ECE with 15 bins); the estimator is that of Chuan Guo,
    Geoff Pleiss, Yu Sun, Kilian Q. Weinberger, On Calibration of Modern Neural Networks, ICML
    2017, arXiv:1706.04599 (equation 3).

Traps:
    - ECE depends on the number of bins and is biased upward for small N (few examples a bin).
    - Only the top-class confidence is binned (the "top-label" ECE), not every class's.
    - Passing logits instead of probabilities would bin meaningless "confidences": rows that are
      not probability vectors raise ``ValueError`` (one reduction, one device sync per call).
"""

from __future__ import annotations

import torch

from reglab._core.registry import Family, Kind, Paper, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.targets import check_distributions
from reglab._core.validation import check_int

TEMPERATURE_SCALING = Paper(
    authors="Muthu Chidambaram, Rong Ge",
    title="On the Limitations of Temperature Scaling for Distributions with Overlaps",
    year=2024,
    arxiv="2306.00740",
)


def _sample(ctx: SampleContext) -> Sample:
    return Sample(
        kwargs={"bins": 10}, inputs=(ctx.logits.softmax(-1), ctx.y), invalid=({"bins": 0}, {"bins": 2.5})
    )


@register(
    "ece", family=Family.DIAGNOSTIC, kind=Kind.METRIC, paper=TEMPERATURE_SCALING, sample=_sample
)
def ece(probs: torch.Tensor, y: torch.Tensor, bins: int = 15) -> torch.Tensor:
    """Top-label ECE over equal-width bins; see the module docstring (``reglab.card("ece")``)."""
    bins = check_int("bins", bins, low=1)
    if not isinstance(probs, torch.Tensor) or probs.ndim != 2 or not probs.is_floating_point():
        raise ValueError(
            f"probs must be a floating tensor of shape (N, K), got {getattr(probs, 'shape', type(probs))}"
        )
    n, k = probs.shape
    if n == 0 or k < 2:
        raise ValueError(
            f"probs must have N >= 1 rows and K >= 2 classes, got shape {tuple(probs.shape)}"
        )
    check_distributions("probs", probs, "; pass softmax(logits), not logits")
    if (
        not isinstance(y, torch.Tensor)
        or y.shape != (n,)
        or y.is_floating_point()
        or y.is_complex()
    ):
        raise ValueError(
            f"y must be an integer tensor of shape ({n},), got {getattr(y, 'shape', type(y))}"
        )
    if y.min() < 0 or y.max() >= k:
        raise ValueError(
            f"y must hold class indices in [0, {k}), got values in [{int(y.min())}, {int(y.max())}]"
        )
    conf, pred = probs.detach().max(dim=1)
    correct = (pred == y).to(probs.dtype)
    # bin m (0-based) holds conf in (m/M, (m+1)/M]; conf = 0 goes to bin 0
    inner_edges = torch.arange(1, bins, dtype=probs.dtype, device=probs.device) / bins
    index = torch.bucketize(conf, inner_edges, right=False)
    count = torch.zeros(bins, dtype=probs.dtype, device=probs.device).index_add_(
        0, index, torch.ones_like(conf)
    )
    acc_sum = torch.zeros_like(count).index_add_(0, index, correct)
    conf_sum = torch.zeros_like(count).index_add_(0, index, conf)
    return (acc_sum - conf_sum).abs().sum() / n
