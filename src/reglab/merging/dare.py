"""DARE: drop and rescale task vectors, then merge them into the base model.

Equation::

    δ_t = θ_t − θ_base                                  (task vector of fine-tuned model t)
    m ~ Bernoulli(1 − p) element-wise,  δ̃_t = (m ⊙ δ_t) · c
    θ_merged = θ_base + Σ_t w_t · δ̃_t

with the rescale c chosen by ``rescale``:

- ``DareRescale.INVERSE_KEEP`` (the paper's): c = 1 / (1 − p), so E[δ̃] = δ entry by entry;
- ``DareRescale.L1_NORM`` (as some merge tools do): c = ‖δ‖₁ / ‖m ⊙ δ‖₁ per tensor, so the
  dropped delta keeps the L1 norm of the original (c = 1 when every entry is dropped).

Arguments:
    base: the pretrained state dict θ_base.
    finetuned: a sequence of one or more state dicts fine-tuned from ``base`` (same keys,
        shapes and dtypes; a mismatch raises ``ValueError`` naming the key).
    p: drop probability in [0, 1) (default 0.9; p = 0 merges the plain task vectors).
    weights: w_t, one finite number per fine-tuned model (default 1 each: task arithmetic).
    rescale: a ``DareRescale`` (or its value ``"inverse-keep"`` / ``"l1-norm"``).
    generator: ``torch.Generator`` for the masks (on the device of the tensors, or the CPU).

Returns:
    A new state dict: floating entries merged, other entries (integer buffers) copied from base.

Example:
    >>> import torch, reglab as rl
    >>> base = {"w": torch.zeros(4)}
    >>> ft = {"w": torch.ones(4)}
    >>> merged = rl.dare_merge(base, [ft], p=0.5, generator=torch.Generator().manual_seed(0))
    >>> sorted(set(merged["w"].tolist())) in ([0.0, 2.0], [0.0], [2.0])   # kept entries doubled
    True
    >>> rl.dare_merge(base, [ft, ft], p=0.0, weights=[0.5, 0.25])["w"]
    tensor([0.7500, 0.7500, 0.7500, 0.7500])

Reference:
    Le Yu, Bowen Yu, Haiyang Yu, Fei Huang, Yongbin Li. Language Models are Super Mario:
    Absorbing Abilities from Homologous Models as a Free Lunch. ICML 2024. arXiv:2311.03099.

Reading taken:
    DARE is applied to every floating entry of the state dicts (the paper's delta parameters
    of all layers); integer buffers are not deltas and come from ``base``. Merging several
    task vectors is the paper's DARE + task arithmetic with one scale a model (``weights``).

Traps:
    - The paper's large drop rates (0.9, even 0.99) rely on the tiny deltas of supervised
      fine-tuning of large language models; small models or large deltas (continued
      pretraining) break at much lower p. Check the merged model on held-out data.
    - ``INVERSE_KEEP`` matches the delta in expectation, not in norm: at high p the merged
      delta is sparse and large. ``L1_NORM`` preserves the norm but is biased per entry.
    - A BatchNorm model needs ``reglab.recalibrate_batchnorm`` after merging (see model-soup).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import Enum

import torch

from reglab._core.registry import Family, Kind, Paper, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.validation import check_choice, check_generator, check_number, check_probability
from reglab.merging._state import StateDict, check_same_layout, check_state_dicts

__all__ = ["DareRescale", "dare", "dare_merge", "task_vector"]

SUPER_MARIO = Paper(
    authors="Le Yu, Bowen Yu, Haiyang Yu, Fei Huang, Yongbin Li",
    title="Language Models are Super Mario: Absorbing Abilities from Homologous Models as a Free Lunch",
    year=2024,
    arxiv="2311.03099",
)


class DareRescale(Enum):
    """How kept entries are rescaled after the drop."""

    INVERSE_KEEP = "inverse-keep"  # divide by 1 − p (the paper's)
    L1_NORM = "l1-norm"  # match the L1 norm of the original delta, tensor by tensor


def dare(
    delta: torch.Tensor,
    p: float,
    rescale: DareRescale = DareRescale.INVERSE_KEEP,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Drop each entry of ``delta`` with probability ``p`` and rescale the rest (a new tensor)."""
    if p == 0.0:
        return delta.clone()
    device = generator.device if generator is not None else delta.device
    keep = torch.rand(delta.shape, generator=generator, device=device).to(delta.device) >= p
    kept = torch.where(keep, delta, torch.zeros((), dtype=delta.dtype, device=delta.device))
    if rescale is DareRescale.INVERSE_KEEP:
        return kept / (1.0 - p)
    kept_l1 = kept.abs().sum()
    scale = torch.where(kept_l1 > 0, delta.abs().sum() / kept_l1.clamp_min(torch.finfo(delta.dtype).tiny), 1.0)
    return kept * scale


def task_vector(finetuned: StateDict, base: StateDict) -> dict[str, torch.Tensor]:
    """δ = θ_ft − θ_base for the floating entries (same keys and shapes, else ``ValueError``)."""
    check_same_layout("state dicts (base, finetuned)", [base, finetuned])
    return {k: finetuned[k].detach() - v.detach() for k, v in base.items() if v.is_floating_point()}


def _sample(ctx: SampleContext) -> Sample:
    base = ctx.model.state_dict()
    tuned = [{k: v + 0.1 * (i + 1) for k, v in base.items()} for i in range(2)]
    return Sample(
        kwargs={"p": 0.5, "weights": [0.5, 0.5], "generator": torch.Generator().manual_seed(0)},
        inputs=(base, tuned),
        invalid=({"p": 1.0}, {"p": -0.1}, {"weights": [1.0]}, {"rescale": "l2"},
                 {"weights": [1.0, float("nan")]}),
    )


@register("dare", family=Family.CONTINUAL, kind=Kind.WEIGHTS, paper=SUPER_MARIO, sample=_sample)
def dare_merge(
    base: StateDict,
    finetuned: Sequence[StateDict],
    p: float = 0.9,
    weights: Sequence[float] | None = None,
    rescale: DareRescale | str = DareRescale.INVERSE_KEEP,
    generator: torch.Generator | None = None,
) -> dict[str, torch.Tensor]:
    """θ_base + Σ_t w_t · DARE(θ_t − θ_base); see ``reglab.card("dare")``."""
    p = check_probability("p", p, high_open=True)
    mode = check_choice("rescale", rescale, DareRescale)
    generator = check_generator(generator)
    if not isinstance(base, Mapping):
        raise TypeError(f"base must be a state dict (a mapping), got {type(base).__name__}")
    tuned = check_state_dicts("finetuned", finetuned)
    check_same_layout("state dicts (base, finetuned)", [base, tuned[0]])
    if weights is None:
        w = [1.0] * len(tuned)
    else:
        if isinstance(weights, (str, Mapping)) or not isinstance(weights, Sequence):
            raise TypeError(f"weights must be a sequence of numbers, got {type(weights).__name__}")
        if len(weights) != len(tuned):
            raise ValueError(f"weights must hold one number per fine-tuned model ({len(tuned)}), got {len(weights)}")
        w = [check_number(f"weights[{i}]", x) for i, x in enumerate(weights)]
    merged = {}
    for k, v in base.items():
        if not v.is_floating_point():
            merged[k] = v.detach().clone()
            continue
        out = v.detach().clone()
        for sd, wt in zip(tuned, w):
            out.add_(dare(sd[k].detach() - v.detach(), p, mode, generator), alpha=wt)
        merged[k] = out
    return merged
