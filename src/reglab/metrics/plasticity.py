"""Plasticity statistics: dead units, feature rank and weight magnitude of each hidden layer.

For each hidden layer l (the output features of a Linear, or channels of a conv, read by the
next weight layer), on a probe batch, with H_l the layer's activations as the next layer sees
them, arranged as (examples·positions, units), σ its singular values::

    dead_fraction    = #{units i : H_l[:, i] = 0 on every probe example and position} / units
    effective_rank   = exp(−Σ_k p_k log p_k),   p_k = σ_k / Σ_j σ_j
    approximate_rank = min { k : Σ_{j≤k} σ_j² ≥ threshold · Σ_j σ_j² }
    mean_abs_weight  = mean |W_l|  (the layer's incoming weights)

Arguments:
    model: an ``nn.Sequential`` of Linear / Conv layers with activations, dropout, pooling or
        flatten between them (the layers ``reglab.ContinualBackprop`` tracks).
    probe: the probe batch, a tensor ``model`` accepts.
    threshold: in (0, 1], the share of σ² the approximate rank must hold (0.99).

Returns:
    A dict from each hidden layer's name (the producing layer's name in ``model``) to a dict of
    scalar tensors: ``dead_fraction``, ``effective_rank``, ``mean_abs_weight`` (model's dtype)
    and ``approximate_rank`` (int64). An all-zero layer has effective rank 0 and approximate rank 0.

Example:
    >>> import torch, reglab as rl
    >>> model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
    >>> with torch.no_grad():
    ...     _ = model[0].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]]))
    ...     _ = model[0].bias.zero_()
    >>> stats = rl.plasticity_stats(model, torch.tensor([[1.0, 0.0], [0.0, 2.0]]))
    >>> round(float(stats["0"]["dead_fraction"]), 4), int(stats["0"]["approximate_rank"])
    (0.3333, 2)

Reference:
    Shibhansh Dohare, J. Fernando Hernandez-Garcia, Qingfeng Lan, Parash Rahman, A. Rupam
    Mahmood, Richard S. Sutton. Loss of Plasticity in Deep Continual Learning. Nature 632, 2024.
    arXiv:2306.13812 (dead units, effective rank, weight magnitude as correlates of plasticity).
    Effective rank: Roy & Vetterli, EUSIPCO 2007.

Traps:
    - The probe runs in eval mode (dropout off) under ``torch.no_grad()``; the model's mode is
      restored afterwards. Batch-norm layers are not accepted between the tracked layers.
    - A conv layer's rows are (example, position) pairs: its ranks are those of the channel
      features over all positions, and a channel is dead only if it is zero everywhere.
    - Ranks depend on the probe: use more examples than units for the rank to be meaningful.
"""

from __future__ import annotations

import torch
from torch import nn

from reglab._core.registry import Family, Kind, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.validation import check_number
from reglab.continual._units import unit_pairs
from reglab.penalties.l2_init import LOSS_OF_PLASTICITY


def feature_stats(h: torch.Tensor, threshold: float = 0.99) -> dict[str, torch.Tensor]:
    """Dead fraction, effective rank and approximate rank of features ``h`` (rows, units)."""
    dead = (h == 0).all(0).to(h.dtype).mean()
    sigma = torch.linalg.svdvals(h)
    total = sigma.sum()
    if total <= 0:
        zero = h.new_zeros(())
        return {"dead_fraction": dead, "effective_rank": zero,
                "approximate_rank": torch.zeros((), dtype=torch.long)}
    p = sigma / total
    energy = torch.cumsum(sigma.square(), 0) / sigma.square().sum()
    # the small slack keeps an exact share (e.g. 2 of 2 equal values at threshold 1) from rounding away
    k = int((energy < threshold * (1 - 8 * torch.finfo(h.dtype).eps)).sum()) + 1
    return {"dead_fraction": dead, "effective_rank": torch.exp(-torch.special.xlogy(p, p).sum()),
            "approximate_rank": torch.tensor(min(k, len(sigma)), dtype=torch.long)}


def _sample(ctx: SampleContext) -> Sample:
    return Sample(kwargs={"threshold": 0.99}, inputs=(ctx.model, ctx.x),
                  invalid=({"threshold": 0.0}, {"threshold": 1.5}))


@register(
    "plasticity-stats", family=Family.DIAGNOSTIC, kind=Kind.METRIC, paper=LOSS_OF_PLASTICITY,
    sample=_sample,
)
def plasticity_stats(model: nn.Module, probe: torch.Tensor, threshold: float = 0.99) -> dict[str, dict[str, torch.Tensor]]:
    """Per-hidden-layer plasticity statistics on ``probe``; see ``reglab.card("plasticity-stats")``."""
    threshold = check_number("threshold", threshold, low=0, high=1, low_open=True)
    pairs = unit_pairs(model)
    seen: dict[int, torch.Tensor] = {}
    handles = [p.next.register_forward_pre_hook(
        lambda m, inputs, i=i: seen.__setitem__(i, inputs[0].detach())) for i, p in enumerate(pairs)]
    modes = [m.training for m in model.modules()]
    try:
        model.eval()
        with torch.no_grad():
            model(probe)
    finally:
        for handle in handles:
            handle.remove()
        for m, mode in zip(model.modules(), modes):
            m.training = mode
    out = {}
    for i, pair in enumerate(pairs):
        stats = feature_stats(pair.unit_view(seen[i]), threshold)
        stats["mean_abs_weight"] = pair.layer.weight.detach().abs().mean()
        out[pair.name] = stats
    return out
