"""Trained rank pruning (TRP): replace weight matrices by truncated SVDs every few steps.

Equation::

    every k optimizer steps, for each selected weight W (a conv kernel reshaped to
    (out, in·kh·kw)), with W = U diag(σ) Vᵀ and σ_1 >= σ_2 >= ...:
        r = min { r : Σ_{i<=r} σ_i² >= e · Σ_i σ_i² }        (energy threshold e)
        W ← U_r diag(σ_1..σ_r) V_rᵀ

Training continues from the low-rank weights, so the network learns to live in a low-rank
subspace; at the end the factors (U_r σ_r, V_r) replace each layer by two thinner ones.

Arguments:
    params: a ``reglab.select`` selection, a module (its ``"weights"`` selection: no biases or
        norm layers) or an iterable of tensors; tensors with fewer than 2 dimensions are skipped.
    energy: e in (0, 1]: the share of the squared singular values kept. ``energy=1`` leaves the
        weights untouched (no SVD is computed: the identity setting).
    every: k >= 1, the number of optimizer steps between projections.

Returns (``project()``): the rank kept for each projected tensor; ``ranks`` holds the last ones.

Example:
    >>> import torch, reglab as rl
    >>> net = torch.nn.Linear(8, 8)
    >>> opt = torch.optim.SGD(net.parameters(), lr=0.1)
    >>> trp = rl.TrainedRankPruning(net, energy=0.5, every=1)
    >>> _ = trp.attach(opt)
    >>> net(torch.randn(4, 8)).sum().backward(); opt.step()
    >>> int(torch.linalg.matrix_rank(net.weight.detach())) == trp.ranks[0] < 8
    True

Reference:
    Yuhui Xu, Yuxi Li, Shuai Zhang, Wei Wen, Botao Wang, Yingyong Qi, Yiran Chen, Weiyao Lin,
    Hongkai Xiong. TRP: Trained Rank Pruning for Efficient Deep Neural Networks. IJCAI 2020.
    arXiv:2004.14566 (first version arXiv:1812.02402).

Reading taken:
    The rank is chosen by the energy of the squared singular values, per tensor, each time;
    the paper's nuclear-norm regularizer that goes with TRP is a separate method here
    (``reglab.Nuclear``): compose the two in a recipe.

Traps:
    - The SVD of a large matrix every step is slow: use ``every`` of tens or hundreds of steps.
    - The optimizer's moments (Adam) still describe the full-rank weights after a projection.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from reglab._core.post_step import PostStepHook
from reglab._core.registry import Family, Kind, Paper, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.selection import Selection, as_selection, select
from reglab._core.validation import check_int, check_number

__all__ = ["TrainedRankPruning", "energy_rank", "truncate_rank_"]

TRP = Paper(
    authors="Yuhui Xu, Yuxi Li, Shuai Zhang, Wei Wen, Botao Wang, Yingyong Qi, Yiran Chen, "
    "Weiyao Lin, Hongkai Xiong",
    title="TRP: Trained Rank Pruning for Efficient Deep Neural Networks",
    year=2020,
    arxiv="2004.14566",
)


def energy_rank(s: torch.Tensor, energy: float) -> int:
    """The smallest r with Σ_{i<=r} s_i² >= energy · Σ s_i² (``s`` sorted descending; >= 1)."""
    sq = s.double().square()
    total = float(sq.sum())
    if total == 0.0:
        return 1
    cum = torch.cumsum(sq, 0)
    # a relative slack of 1e-12 so that energy=1 keeps all, despite rounding of the sums
    return int((cum < energy * total * (1 - 1e-12)).sum()) + 1


def truncate_rank_(w: torch.Tensor, energy: float) -> int:
    """Replace ``w`` (>= 2 dims, read as (shape[0], rest)) in place by its truncated SVD."""
    with torch.no_grad():
        m = w.reshape(w.shape[0], -1)
        u, s, vh = torch.linalg.svd(m, full_matrices=False)
        r = energy_rank(s, energy)
        w.copy_(((u[:, :r] * s[:r]) @ vh[:r]).reshape(w.shape))
    return r


def _sample(ctx: SampleContext) -> Sample:
    return Sample(
        kwargs={"params": ctx.model, "energy": 0.9, "every": 2},
        invalid=({"energy": 0.0}, {"energy": 1.5}, {"every": 0}, {"params": []}),
        identity={"energy": 1.0},
    )


@register("trained-rank-pruning", family=Family.LAYER, kind=Kind.POST_STEP, paper=TRP, sample=_sample)
class TrainedRankPruning(PostStepHook):
    """Truncated-SVD projection of the weights every ``every`` steps; see the module docstring."""

    def __init__(
        self,
        params: Selection | nn.Module | Iterable[torch.Tensor],
        energy: float = 0.98,
        every: int = 10,
    ) -> None:
        super().__init__()
        self.energy = check_number("energy", energy, low=0, high=1, low_open=True)
        self.every = check_int("every", every, low=1)
        chosen = as_selection(select(params, "weights") if isinstance(params, nn.Module) else params)
        self.params = [p for p in chosen.params() if p.dim() >= 2]
        if not self.params:
            raise ValueError("params selects no weight with 2 or more dimensions")
        self.steps = 0
        self.ranks: list[int] = []

    def project(self) -> list[int]:
        """Project every selected weight now; returns the ranks kept."""
        if self.energy < 1.0:
            self.ranks = [truncate_rank_(p, self.energy) for p in self.params]
        return self.ranks

    def after_step(self, optimizer: torch.optim.Optimizer) -> None:
        self.steps += 1
        if self.steps % self.every == 0:
            self.project()

    def state_dict(self) -> dict[str, Any]:
        return {"steps": self.steps}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if set(state_dict) != {"steps"}:
            raise ValueError(f"TrainedRankPruning state has the key 'steps', got {sorted(state_dict)}")
        self.steps = int(state_dict["steps"])

    def __repr__(self) -> str:
        return f"TrainedRankPruning(energy={self.energy:g}, every={self.every}, params={len(self.params)})"
