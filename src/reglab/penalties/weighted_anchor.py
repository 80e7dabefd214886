"""Weighted anchor: a layer- and element-wise importance-weighted pull towards pretrained weights.

Equation (the hierarchical regularization of Song et al. 2025, Section 4)::

    R(θ) = λ · Σ_l α_l Σ_{i ∈ l} Ω_{l,i} (θ_{l,i} − θ⁰_{l,i})²          total loss: L_domain + R(θ)

θ⁰ are the weights after the general-task phase (the anchors), Ω ≥ 0 the element-wise importance of
each weight for the general task, and α_l ≥ 0 one coefficient per layer (a layer is the module
owning the parameter: ``"0.weight"`` and ``"0.bias"`` are layer ``"0"``). With Ω = 1 and α_l = 1
this is L2-SP without its ½.

Importance Ω, two helpers:
    - ``PathIntegralImportance(params).attach(opt)`` during the general-task training, then
      ``.importance()``: the paper's Section 4.1 element-wise importance, a Synaptic-Intelligence
      path integral Ω_i = max(Σ_t −g_i Δθ_i, 0) / ((θ_i(T) − θ_i(0))² + ξ) (see its own card).
    - ``squared_gradient_importance(model, batches, loss_fn)``: Ω_i = (1/B) Σ_b (∂L_b/∂θ_i)², the
      squared gradients of each batch's loss averaged over B batches (an empirical-Fisher diagonal
      at batch level, as in EWC). Not the paper's; for when no training trajectory was recorded.

Layer coefficients α (``layer_weights``):
    - ``LayerWeights.IMPORTANCE_SOFTMAX``: α_l = exp(‖Ω_l‖₂) / Σ_j exp(‖Ω_j‖₂), ‖Ω_l‖₂ the 2-norm of
      all of layer l's importances; fixed by Ω, so constant during domain tuning. This is the
      paper's layer-wise coefficient as rendered by secondary sources (see "Readings").
    - ``LayerWeights.DYNAMIC`` (default, kept until the rule above is checked against the paper):
      α_l = R_l / Σ_j R_j with R_l = Σ_{i∈l} Ω_{l,i}(θ−θ⁰)², recomputed at every call and held
      constant for the gradient (detached). A reading from the first release, not from the paper.
    - ``LayerWeights.UNIFORM`` (α_l = 1), or a mapping from every layer name to a number >= 0.

Arguments:
    params: a selection, a module (its "weights" selection) or an iterable of tensors.
    strength: λ >= 0, a float or a ``reglab.schedules`` schedule.
    importance: Ω, ``None`` (all ones), a sequence of tensors in the selection's order, or a
        mapping from parameter names to tensors (what both helpers return); finite, >= 0, shaped
        like the parameters.
    anchors: θ⁰ as in ``reglab.L2SP``: ``None`` (snapshot now), a sequence or a mapping.
    layer_weights: α, a ``LayerWeights`` or its value, or a mapping from every layer name to a number >= 0.

Returns:
    ``forward()`` returns a scalar tensor λ·R(θ) in the parameters' dtype.

Example:
    >>> import torch, reglab as rl
    >>> net = torch.nn.Linear(2, 1, bias=False)
    >>> omega = {"weight": torch.tensor([[1.0, 3.0]])}
    >>> pen = rl.WeightedAnchor(net, strength=1.0, importance=omega, layer_weights="uniform")
    >>> with torch.no_grad():
    ...     _ = net.weight.add_(1.0)
    >>> round(pen().item(), 6)                  # 1·1² + 3·1²
    4.0

Reference:
    Shezheng Song, Hao Xu, Jun Ma, Shasha Li, Long Peng, Qian Wan, Xiaodong Liu, Jie Yu. How to
    Alleviate Catastrophic Forgetting in LLMs Finetuning? Hierarchical Layer-Wise and
    Element-Wise Regularization. 2025. arXiv:2501.13669.

Readings (flagged for review; no equation numbers are given because the paper's Section 4 text
could not be opened with the tools of the session that wrote this: the stored copies of the arXiv
HTML return only their first screen, up to the table of contents):
    - Ω (Section 4.1): the alphaXiv overview of the paper states in words that the importance
      after the general task is the accumulated instantaneous contribution to the loss decrease
      over the squared total parameter change plus ξ, "inspired by Synaptic Intelligence";
      ``PathIntegralImportance`` implements that, with negative ω clipped to zero (a reading).
    - α_l: two secondary renderings in public repositories (a research note, and a thesis
      codebase that reimplements the method with "static HLoRA layer coefficients") give
      α_l = softmax over layers of ‖Ω_l‖₂, and the total loss L + λ Σ_l α_l Σ_i Ω_i (θ_i − θ*_i)²
      (the note writes λ as "e⁻³", 1e-3 or e^-3).
      The abstract's "dynamically balancing" is not visible in that rule; the primary text
      should settle it before ``IMPORTANCE_SOFTMAX`` becomes the default.

Traps:
    - No ½ in front (the paper's form); ``L2SP`` has one: at equal λ this pulls twice as hard.
    - Ω from squared gradients scales with the loss's scale and the batch size, Ω from the path
      integral with the learning rate and the number of steps: λ has to be tuned with it.
    - The softmax of ‖Ω_l‖₂ is not scale-free: when the norms differ by more than a few units,
      one layer takes nearly all of α (rescaling Ω changes α).
    - A fresh head has no meaningful anchor: leave it out of ``params``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from enum import Enum
from typing import Any

import torch
from torch import nn

from reglab._core.registry import Family, Kind, Paper, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.schedules import Schedule
from reglab._core.selection import Selection
from reglab._core.validation import check_choice, check_number
from reglab.penalties._anchor import AnchorPenalty, Anchors, per_parameter

__all__ = [
    "LayerWeights", "WeightedAnchor", "importance_softmax", "squared_gradient_importance", "weighted_anchor",
]

HIERARCHICAL = Paper(
    authors="Shezheng Song, Hao Xu, Jun Ma, Shasha Li, Long Peng, Qian Wan, Xiaodong Liu, Jie Yu",
    title="How to Alleviate Catastrophic Forgetting in LLMs Finetuning? Hierarchical Layer-Wise and "
    "Element-Wise Regularization",
    year=2025,
    arxiv="2501.13669",
)


class LayerWeights(Enum):
    """How the per-layer coefficients α_l are set."""

    DYNAMIC = "dynamic"  # α_l = R_l / Σ_j R_j, recomputed each call, detached (a reading, not the paper's)
    UNIFORM = "uniform"  # α_l = 1
    IMPORTANCE_SOFTMAX = "importance-softmax"  # α_l = softmax_l(‖Ω_l‖₂), from Ω alone


def weighted_anchor(
    params: list[torch.Tensor],
    anchors: list[torch.Tensor],
    importance: list[torch.Tensor],
    layer_of: torch.Tensor,
    alpha: torch.Tensor | LayerWeights,
) -> torch.Tensor:
    """Σ_l α_l Σ_{i∈l} Ω_i (θ_i − θ⁰_i)²; tensor t belongs to layer ``layer_of[t]``."""
    diffs = torch._foreach_sub(params, anchors)
    terms = torch._foreach_mul(diffs, diffs)
    torch._foreach_mul_(terms, importance)
    per_tensor = torch.stack([t.sum() for t in terms])
    per_layer = torch.zeros(int(layer_of.max()) + 1, dtype=per_tensor.dtype, device=per_tensor.device)
    per_layer = per_layer.index_add(0, layer_of.to(per_tensor.device), per_tensor)
    if alpha is LayerWeights.UNIFORM:
        return per_layer.sum()
    if alpha is LayerWeights.IMPORTANCE_SOFTMAX:
        return (importance_softmax(importance, layer_of).to(per_layer) * per_layer).sum()
    if alpha is LayerWeights.DYNAMIC:
        r = per_layer.detach()
        total = r.sum()
        weights = torch.where(total > 0, r / total.clamp_min(torch.finfo(r.dtype).tiny), 1.0)
        return (weights * per_layer).sum()
    return (alpha.to(per_layer) * per_layer).sum()


def importance_softmax(importance: list[torch.Tensor], layer_of: torch.Tensor) -> torch.Tensor:
    """α_l = exp(‖Ω_l‖₂) / Σ_j exp(‖Ω_j‖₂), ‖Ω_l‖₂ the 2-norm of all Ω entries of layer l."""
    squares = torch.stack([o.detach().square().sum() for o in importance])
    per_layer = torch.zeros(int(layer_of.max()) + 1, dtype=squares.dtype, device=squares.device)
    per_layer = per_layer.index_add(0, layer_of.to(squares.device), squares)
    return torch.softmax(per_layer.sqrt(), dim=0)


def squared_gradient_importance(
    model: nn.Module,
    batches: Iterable[Any],
    loss_fn: Callable[[nn.Module, Any], torch.Tensor],
) -> dict[str, torch.Tensor]:
    """Ω = mean over batches of the squared gradient of ``loss_fn(model, batch)``, per parameter.

    Returns a mapping from the names of ``model``'s trainable parameters to tensors shaped like
    them. The model's gradients are left as they were found.
    """
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not named:
        raise ValueError("model has no trainable parameters to weigh")
    saved = [p.grad for _, p in named]
    omega = [torch.zeros_like(p, memory_format=torch.preserve_format) for _, p in named]
    count = 0
    try:
        for batch in batches:
            params = [p for _, p in named]
            loss = loss_fn(model, batch)
            if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
                raise ValueError(f"loss_fn must return a scalar tensor, got {getattr(loss, 'shape', type(loss))}")
            grads = torch.autograd.grad(loss, params, allow_unused=True)
            for o, g in zip(omega, grads):
                if g is not None:
                    o.add_(g.detach().square())
            count += 1
    finally:
        for (_, p), g in zip(named, saved):
            p.grad = g
    if count == 0:
        raise ValueError("batches must yield at least one batch, got none")
    return {n: o / count for (n, _), o in zip(named, omega)}


def _sample(ctx: SampleContext) -> Sample:
    pretrained = {k: v.detach() + 0.1 for k, v in ctx.model.state_dict().items()}
    omega = {k: v.detach().abs() for k, v in ctx.model.state_dict().items()}
    return Sample(
        kwargs={"params": ctx.model, "strength": 0.1, "importance": omega, "anchors": pretrained},
        invalid=(
            {"strength": -0.1}, {"importance": {k: -v for k, v in omega.items()}},
            {"importance": {"0.weight": omega["0.weight"]}}, {"layer_weights": "deep"},
            {"layer_weights": {"0": 1.0}}, {"layer_weights": {"0": -1.0, "2": 1.0, "4": 1.0}},
        ),
        identity={"strength": 0.0},
    )


@register(
    "weighted-anchor",
    family=Family.PARAMETER_PENALTY,
    kind=Kind.PENALTY,
    paper=HIERARCHICAL,
    sample=_sample,
)
class WeightedAnchor(AnchorPenalty):
    """λ Σ_l α_l Σ_i Ω (θ − θ⁰)² towards pretrained weights; see ``reglab.card("weighted-anchor")``."""

    def __init__(
        self,
        params: Selection | nn.Module | Iterable[torch.Tensor],
        strength: float | Schedule = 1e-4,
        importance: Anchors = None,
        anchors: Anchors = None,
        layer_weights: LayerWeights | str | Mapping[str, float] = LayerWeights.DYNAMIC,
    ) -> None:
        super().__init__(params, strength, anchors)
        named = self.selection.named
        for i, omega in enumerate(self._importance(importance)):
            self.register_buffer(f"importance_{i}", omega)
        layers = [n.rpartition(".")[0] for n, _ in named]
        self.layer_names = list(dict.fromkeys(layers))
        self.register_buffer("layer_of", torch.tensor([self.layer_names.index(n) for n in layers]),
                             persistent=False)
        if isinstance(layer_weights, Mapping):
            missing = [n for n in self.layer_names if n not in layer_weights]
            if missing:
                raise ValueError(f"layer_weights has no number for the layers {missing}")
            alpha = [check_number(f"layer_weights[{n!r}]", layer_weights[n], low=0.0) for n in self.layer_names]
            p0 = named[0][1]
            self.register_buffer("alpha", torch.tensor(alpha, dtype=p0.dtype, device=p0.device))
            self.mode: LayerWeights | None = None
        else:
            self.mode = check_choice("layer_weights", layer_weights, LayerWeights)

    def _importance(self, importance: Anchors) -> list[torch.Tensor]:
        named = self.selection.named
        if importance is None:
            return [torch.ones_like(p.detach()) for _, p in named]
        return per_parameter("importance", importance, named, nonnegative=True)

    def importance(self) -> list[torch.Tensor]:
        """Ω, in the selection's order."""
        return [self.get_buffer(f"importance_{i}") for i in range(len(self.selection))]

    def value(self, params: list[torch.Tensor]) -> torch.Tensor:
        alpha = self.mode if self.mode is not None else self.get_buffer("alpha")
        return weighted_anchor(params, self.anchors(), self.importance(), self.layer_of, alpha)

    def extra_repr(self) -> str:
        mode = self.mode.value if self.mode is not None else "given"
        return f"{super().extra_repr()}, layers={len(self.layer_names)}, layer_weights={mode}"
