"""Weighted group sparse envelope (WGSEF): the convex envelope of "at most k non-zero groups".

Equation (Refael, Arbel & Huleihel; our reading, see Traps)::

    v_g = ω_g ‖w_g‖₂                         one entry per group g of a tensor (rows / columns / kernels)
    s_k(v) = (½ ‖·‖² + δ{‖·‖₀ ≤ k})**(v)    convex envelope (biconjugate); in closed form, with
           = ½ ( Σ_{i < k−r} z_i² + (Σ_{i ≥ k−r} z_i)² / (r + 1) )      z = |v| sorted decreasing,
                                             r ∈ {0..k−1} the unique index with
                                             z_{k−r−1} > Σ_{i ≥ k−r} z_i / (r + 1) >= z_{k−r}
    R(w) = λ Σ_t s_{k_t}(v_t),    k_t = ⌈keep · G_t⌉ of the tensor's G_t groups

s_k is ½‖v‖²_(k), the squared k-support norm (Argyriou et al. 2012): s_k(v) = ½‖v‖² when v has
at most k non-zero entries, and s_1(v) = ½‖v‖₁² (group lasso squared) at the other end; in
between it penalizes only the "tail" beyond the k largest groups in an ℓ1 way, which pushes a
tensor towards exactly k surviving groups. Computed here through the variational form
‖v‖²_(k) = min {Σ_g v_g²/θ_g : 0 < θ_g <= 1, Σθ_g <= k}, θ_g = min(1, |v_g|/s).

Proximal operator (for proximal-gradient training, exact zeros): w_g ← c_g w_g with
c_g = θ_g / (θ_g + τω_g²), θ_g = clip(v_g / s − τω_g², 0, 1) and s > 0 chosen so Σθ_g = k (or
θ = 1 if at most k groups are non-zero), τ = η·λ. A group whose θ_g is 0 becomes exactly zero;
``group_envelope_prox_`` applies it (``GroupEnvelope.prox_(τ)``).

Arguments:
    params: a selection, a module (its "weights") or an iterable of tensors; tensors of two or
        more dimensions are penalized (1-D ones skipped), at least one, all finite.
    strength: λ >= 0, a float or a schedule.
    keep: the fraction of groups kept per tensor, in (0, 1]; k_t = ⌈keep·G_t⌉ (keep = 1 is ½‖w‖²).
    groups: a ``GroupBy`` (rows = output units, columns = input units, kernels), as in group lasso.
    size_weighted: ω_g = √|g| when True (as group lasso), else ω_g = 1.

Returns:
    ``forward()``: λ·R(w), a scalar. ``reglab.functional.sparse_envelope(v, k)`` is s_k of a
    vector; ``group_envelope(params, keep, groups, size_weighted)`` is R/λ.

Example:
    >>> import torch, reglab as rl
    >>> w = torch.tensor([[3.0, 4.0], [1.0, 0.0], [0.0, 0.5]])   # row norms 5, 1, 0.5
    >>> pen = rl.GroupEnvelope([w], strength=1.0, keep=0.34, size_weighted=False)   # k = 2
    >>> round(float(pen()), 4)            # ½(5² + (1 + 0.5)²/1): z_1 = 5 > 1.5 >= z_2 = 1
    13.625
    >>> _ = pen.prox_(1.0)                # τ = η·λ: the third row becomes exactly zero
    >>> [round(float(n), 3) for n in w.norm(dim=1)]
    [2.5, 0.5, 0.0]

Reference:
    Yehonathan Refael, Iftach Arbel, Wasim Huleihel. Learning k-Level Structured Sparse Neural
    Networks Using Group Envelope Regularization. 2022. arXiv:2212.12921. Sparse envelope:
    Amir Beck, Yehonathan Refael, Sparse regularization via bidualization, JOGO 2022;
    k-support norm: Argyriou, Foygel, Srebro, Sparse prediction with the k-support norm, 2012.

Traps:
    - Our reading, where the abstract is vague: the envelope is taken per tensor with its own k
      (not one k across the network), the penalty is s_k of the weighted group norms as above
      (the paper's exact weighting rule for ω_g is not reproduced: √|g| or 1), and the prox is
      the exact one of the variational form (sort-free bisection for s, then an exact solve).
    - As with group lasso, gradient steps on the penalty leave groups near zero, not at zero:
      use ``prox_`` after each optimizer step (with τ = lr·λ) for exact zeros.
    - R is convex in w (s_k is convex and non-decreasing in each |v_g|, and v_g is convex in w);
      it reaches exactly k groups only with a large enough λ (and the prox), not for any λ.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

from reglab._core.registry import Family, Kind, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.schedules import Schedule
from reglab._core.selection import Selection
from reglab._core.validation import check_bool, check_choice, check_number
from reglab.penalties._matrix import MatrixPenalty, matrices
from reglab.penalties.group_lasso import GROUP_ENVELOPE, GroupBy, _reduce_dims, group_size


@torch.no_grad()
def _threshold(v: torch.Tensor, k: int, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Masks (one, mid) of θ_g = clip(v_g/s − c_g, 0, 1) at the s > 0 where Σθ = k; v >= 0.

    Returns all-ones ``one`` when at most k entries are positive (the constraint is inactive).
    """
    pos = v > 0
    if int(pos.sum()) <= k:
        return pos, torch.zeros_like(pos)
    lo = float((v[pos] / (1 + c[pos])).min()) * 0.5  # every θ is 1: Σθ = #positive > k
    hi = float(v.sum()) / k  # θ <= v/s: Σθ <= k
    for _ in range(200):
        s = 0.5 * (lo + hi)
        total = float((v / s - c).clamp(0, 1).sum())
        lo, hi = (s, hi) if total > k else (lo, s)
        if hi - lo <= 1e-15 * hi:
            break
    theta = v / hi - c
    return theta >= 1, (theta > 0) & (theta < 1)


def sparse_envelope(v: torch.Tensor, k: int) -> torch.Tensor:
    """s_k(v) = ½‖v‖²_(k) of a 1-D tensor (differentiable; the active pieces in closed form)."""
    a = v.abs()
    one, mid = _threshold(a.detach(), k, torch.zeros_like(a))
    head = a[one].square().sum()
    if not bool(mid.any()):
        return 0.5 * head
    return 0.5 * (head + a[mid].sum().square() / (k - int(one.sum())))


def _k(num_groups: int, keep: float) -> int:
    return max(1, min(num_groups, math.ceil(keep * num_groups - 1e-9)))


def _weighted_norms(p: torch.Tensor, groups: GroupBy, size_weighted: bool) -> tuple[torch.Tensor, float]:
    dims = _reduce_dims(p, groups)
    norms = p.abs() if not dims else torch.linalg.vector_norm(p, dim=dims)
    omega = math.sqrt(group_size(p, groups)) if size_weighted else 1.0
    return omega * norms.reshape(-1), omega


def group_envelope(
    params: list[torch.Tensor], keep: float, groups: GroupBy | str = GroupBy.ROWS,
    size_weighted: bool = True,
) -> torch.Tensor:
    """Σ_t s_{k_t}(ω ‖w_g‖₂ over the groups of t) over the tensors of two or more dimensions."""
    groups = check_choice("groups", groups, GroupBy)
    matrices(params)  # raises when no tensor has two or more dimensions
    terms = []
    for p in params:
        if p.ndim < 2:
            continue
        v, _ = _weighted_norms(p, groups, size_weighted)
        terms.append(sparse_envelope(v, _k(v.numel(), keep)))
    return torch.stack(terms).sum()


@torch.no_grad()
def group_envelope_prox_(
    params: list[torch.Tensor], tau: float, keep: float, groups: GroupBy | str = GroupBy.ROWS,
    size_weighted: bool = True,
) -> None:
    """w ← prox_{τ R}(w) in place (see the card); 1-D tensors are left alone."""
    groups = check_choice("groups", groups, GroupBy)
    if tau <= 0:
        return
    for p in params:
        if p.ndim < 2:
            continue
        v, omega = _weighted_norms(p, groups, size_weighted)
        c = torch.full_like(v, tau * omega**2)
        k = _k(v.numel(), keep)
        one, mid = _threshold(v, k, c)
        if bool(mid.any()):
            s = v[mid].sum() / (k - one.sum() + c[mid].sum())
            theta = torch.where(one, torch.ones_like(v), torch.where(mid, v / s - c, torch.zeros_like(v)))
        else:
            theta = one.to(v.dtype)
        scale = theta / (theta + c)
        shape = [p.shape[d] if d not in _reduce_dims(p, groups) else 1 for d in range(p.ndim)]
        p.mul_(scale.reshape(shape))


def _sample(ctx: SampleContext) -> Sample:
    return Sample(
        kwargs={"params": ctx.model, "strength": 0.1, "keep": 0.5, "groups": GroupBy.ROWS},
        invalid=({"strength": -0.1}, {"keep": 0.0}, {"keep": 1.5}, {"groups": "filters"},
                 {"size_weighted": 1}, {"params": [torch.ones(3)]}),
        identity={"strength": 0.0},
    )


@register("group-envelope", family=Family.PARAMETER_PENALTY, kind=Kind.PENALTY,
          paper=GROUP_ENVELOPE, sample=_sample)
class GroupEnvelope(MatrixPenalty):
    """λ · Σ_t s_k(ω‖w_g‖₂): the weighted group sparse envelope; see ``reglab.card("group-envelope")``."""

    def __init__(
        self,
        params: Selection | nn.Module | Iterable[torch.Tensor],
        strength: float | Schedule = 1e-4,
        keep: float = 0.5,
        groups: GroupBy | str = GroupBy.ROWS,
        size_weighted: bool = True,
    ) -> None:
        super().__init__(params, strength)
        self.keep = check_number("keep", keep, low=0.0, high=1.0, low_open=True)
        self.groups = check_choice("groups", groups, GroupBy)
        self.size_weighted = check_bool("size_weighted", size_weighted)

    def value(self, params: list[torch.Tensor]) -> torch.Tensor:
        return group_envelope(params, self.keep, self.groups, self.size_weighted)

    def prox_(self, tau: float) -> GroupEnvelope:
        """Apply prox_{τ R} to the selection in place (τ = η·λ in a proximal step)."""
        tau = check_number("tau", tau, low=0.0)
        group_envelope_prox_(self.selection.params(), tau, self.keep, self.groups, self.size_weighted)
        return self

    def extra_repr(self) -> str:
        return (f"keep={self.keep:g}, groups={self.groups.value}, size_weighted={self.size_weighted}, "
                f"{super().extra_repr()}")
