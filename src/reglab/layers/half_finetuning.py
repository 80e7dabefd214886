"""Half fine-tuning (HFT): freeze a random half of the parameter matrices for a fine-tuning stage.

Rule::

    for each block b (a module named in ``blocks``; by default the whole model is one block):
        U_b = the modules in b that own parameters (a Linear, a norm layer, an embedding)
        freeze a uniformly random subset of ⌊|U_b|/2⌋ or ⌈|U_b|/2⌉ of them, the rounding of odd
        blocks alternating so that half of the units overall are frozen

The frozen half keeps the previous stage's values exactly; the other half is trained as usual.
Call it again (after ``unfreeze``) at the next stage to draw a new half.

Arguments:
    model: the module to fine-tune, changed in place (``requires_grad_(False)`` on the frozen
        parameters, and their ``.grad`` cleared).
    blocks: ``None`` (one block: the whole model) or a sequence of submodule names, e.g. the
        transformer layers ``[f"model.layers.{i}" for i in range(n)]`` plus the embedding and
        the head; a unit belongs to the longest block name that prefixes it; units outside every
        block form one more block.
    keep_head: when True, the model's head (its last ``nn.Linear`` in module order) is left
        out of the draw and stays trainable: a fine-tuning task's fresh head (default False).
    generator: ``torch.Generator`` for the draw (default: the global generator).

Returns:
    The names of the frozen parameters, in ``model.named_parameters()`` order; pass them to
    ``unfreeze(model, names)`` at the end of the stage.

Example:
    >>> import torch, reglab as rl
    >>> net = torch.nn.Sequential(*[torch.nn.Linear(4, 4) for _ in range(4)])
    >>> frozen = rl.apply_half_finetuning(net, generator=torch.Generator().manual_seed(0))
    >>> len(frozen), sum(p.requires_grad for p in net.parameters())   # 2 of 4 layers frozen
    (4, 4)
    >>> rl.unfreeze(net, frozen)
    >>> all(p.requires_grad for p in net.parameters())
    True

Reference:
    Tingfeng Hui, Zhenyu Zhang, Shuohuan Wang, Weiran Xu, Yu Sun, Hua Wu. HFT: Half Fine-Tuning
    for Large Language Models. 2024. arXiv:2404.18466.

Reading taken:
    The paper selects at the "category level" inside each transformer block of LLaMA 2 (half
    of the attention matrices, half of the feed-forward ones, with the rounding of the odd
    count alternating between layers), not half of the scalar weights. The generic rule here
    keeps that unit (a parameter-owning module: a weight matrix with its bias) and that
    alternation, with blocks the caller names; for a small MLP the default single block freezes
    half of its layers.

In a recipe::

    methods:                                # the harness's fine-tune phase: applied after
      - half-finetuning: {keep_head: true}  # the pretrained weights are loaded, before the
                                            # optimizer; the draw from the method's stream

Traps:
    - Build the optimizer after freezing, or keep ``zero_grad(set_to_none=True)`` (the default):
      a frozen tensor with a zero ``.grad`` still gets AdamW's decoupled decay and momentum.
    - Freezing a fresh task head leaves it at its random initialization: keep the head out of
      the draw (``keep_head=True``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import nn

from reglab._core.registry import Family, Kind, Paper, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.validation import check_bool, check_generator
from reglab.layers._surgery import get_module

__all__ = ["apply_half_finetuning", "unfreeze"]

HFT = Paper(
    authors="Tingfeng Hui, Zhenyu Zhang, Shuohuan Wang, Weiran Xu, Yu Sun, Hua Wu",
    title="HFT: Half Fine-Tuning for Large Language Models",
    year=2024,
    arxiv="2404.18466",
)


def _units(model: nn.Module) -> list[tuple[str, list[str]]]:
    """(module name, its trainable parameter names) for each module owning parameters directly."""
    out = []
    for name, module in model.named_modules():
        own = [n for n, p in module.named_parameters(recurse=False) if p.requires_grad]
        if own:
            out.append((name, [f"{name}.{n}" if name else n for n in own]))
    return out


def _block_of(unit: str, blocks: Sequence[str]) -> int:
    best, length = len(blocks), -1  # index len(blocks): outside every named block
    for i, b in enumerate(blocks):
        if (b == "" or unit == b or unit.startswith(b + ".")) and len(b) > length:
            best, length = i, len(b)
    return best


def _sample(ctx: SampleContext) -> Sample:
    return Sample(
        kwargs={"generator": torch.Generator().manual_seed(0)},
        inputs=(ctx.model,),
        invalid=({"blocks": ["nope"]}, {"generator": 3}, {"blocks": "0"}, {"keep_head": "yes"}),
    )


def _head(model: nn.Module) -> str:
    names = [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not names:
        raise ValueError("keep_head=True needs a model with an nn.Linear head; it has none")
    return names[-1]


def apply_half_finetuning(
    model: nn.Module,
    blocks: Sequence[str] | None = None,
    keep_head: bool = False,
    generator: torch.Generator | None = None,
) -> list[str]:
    """Freeze a random half of each block's parameter-owning modules; return the frozen names."""
    generator = check_generator(generator)
    keep_head = check_bool("keep_head", keep_head)
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    if blocks is None:
        names: list[str] = [""]
    elif isinstance(blocks, str) or not isinstance(blocks, Sequence):
        raise TypeError(f"blocks must be a sequence of submodule names or None, got {blocks!r}")
    else:
        names = list(blocks)
        for b in names:
            get_module(model, b, "blocks")
    units = _units(model)
    if keep_head:
        head = _head(model)
        units = [(name, params) for name, params in units if name != head]
    if len(units) < 2:
        raise ValueError(f"model has {len(units)} module(s) with trainable parameters; HFT needs at least 2")
    groups: dict[int, list[list[str]]] = {}
    for unit, params in units:
        groups.setdefault(_block_of(unit, names), []).append(params)
    ceil_next = bool(torch.randint(0, 2, (1,), generator=generator))
    frozen: set[str] = set()
    for index in sorted(groups):
        members = groups[index]
        k = len(members) // 2
        if len(members) % 2:
            k += int(ceil_next)
            ceil_next = not ceil_next
        for j in torch.randperm(len(members), generator=generator)[:k].tolist():
            frozen.update(members[j])
    params = dict(model.named_parameters())
    for n in frozen:
        params[n].requires_grad_(False)
        params[n].grad = None
    return [n for n in params if n in frozen]


def unfreeze(model: nn.Module, names: Iterable[str]) -> None:
    """Make the named parameters trainable again (the end of an HFT stage)."""
    params = dict(model.named_parameters())
    for n in names:
        if n not in params:
            raise ValueError(f"names must name parameters of the model, got {n!r}")
        params[n].requires_grad_(True)


# a function entry (kind weights) that is also model surgery: a recipe's fine-tune phase applies it
register(
    "half-finetuning",
    family=Family.CONTINUAL,
    kind=Kind.WEIGHTS,
    paper=HFT,
    sample=_sample,
    apply=apply_half_finetuning,
)(apply_half_finetuning)
