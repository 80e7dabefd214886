"""Very large dropout for fine-tuning: dropout with p ≈ 0.9 on the penultimate representation.

Equation (Zhang & Bottou 2024)::

    logits = W · ( m ⊙ φ(x) / (1 − p) ) + b,     m ~ Bernoulli(1 − p) element-wise, p ≈ 0.9

φ(x) is the penultimate representation (the input of the final linear layer); all layers are
fine-tuned. Evaluation is the plain model. ``apply_large_dropout(model, p=0.9, before=None)``
wraps the final layer (by default the last ``nn.Linear`` in module order, or the submodule
named ``before``) in a ``LargeDropout`` that drops its input, and returns the model, changed in
place; applying it again changes nothing more.

Arguments:
    layer: (``LargeDropout``) the final layer whose input is dropped.
    p: dropout probability in [0, 1); the paper uses 0.9 (0.9 to 0.95 work).
    before: (``apply_large_dropout``) name of the submodule to drop the input of, e.g. ``"fc"``;
        ``None`` picks the last ``nn.Linear``.
    generator: optional ``torch.Generator``; its state is kept in ``state_dict()``.

Returns:
    ``LargeDropout.forward(x)`` returns ``layer(dropout(x))``; ``apply_large_dropout`` the model.

Example:
    >>> import torch, reglab as rl
    >>> model = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    >>> model = rl.apply_large_dropout(model, p=0.9)
    >>> type(model[2]).__name__, model[2].p
    ('LargeDropout', 0.9)
    >>> model(torch.randn(5, 4)).shape
    torch.Size([5, 3])

Reference:
    Jianyu Zhang, Léon Bottou. Fine-tuning with Very Large Dropout. 2024. arXiv:2403.00946.

Traps:
    - Only for fine-tuning from a rich pretrained representation: training from scratch at such
      rates fails (the paper's own observation).
    - The wrapped layer's parameters move under ``<name>.layer`` in ``state_dict``; load
      checkpoints saved after the surgery into a model that had it applied.
"""

from __future__ import annotations

import torch
from torch import nn

from reglab._core.generator_state import GeneratorState
from reglab._core.registry import Family, Kind, Paper, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.validation import check_generator, check_probability
from reglab.layers._random import dropout
from reglab.layers._surgery import final_layer_name, wrap_module

VERY_LARGE_DROPOUT = Paper(
    authors="Jianyu Zhang, Léon Bottou",
    title="Fine-tuning with Very Large Dropout",
    year=2024,
    arxiv="2403.00946",
)


def _sample(ctx: SampleContext) -> Sample:
    with torch.no_grad():
        features = ctx.model[:4](ctx.x)
    return Sample(
        kwargs={"layer": ctx.model[4], "p": 0.9},
        inputs=(features,),
        invalid=({"p": 1.0}, {"p": -0.1}, {"layer": None}),
        identity={"p": 0.0},
        reference=ctx.model[4],
    )


def apply_large_dropout(
    model: nn.Module,
    p: float = 0.9,
    before: str | None = None,
    generator: torch.Generator | None = None,
) -> nn.Module:
    """Drop the input of the final layer with probability ``p``; see the module docstring."""
    p = check_probability("p", p, high_open=True)
    name = final_layer_name(model, before, "before")
    return wrap_module(model, name, LargeDropout, lambda layer: LargeDropout(layer, p, generator))


@register(
    "large-dropout-finetune",
    family=Family.LAYER,
    kind=Kind.LAYER,
    paper=VERY_LARGE_DROPOUT,
    sample=_sample,
    apply=apply_large_dropout,
)
class LargeDropout(GeneratorState, nn.Module):
    """``layer(dropout_p(x))``; see ``reglab.card("large-dropout-finetune")``."""

    def __init__(self, layer: nn.Module, p: float = 0.9, generator: torch.Generator | None = None) -> None:
        super().__init__()
        if not isinstance(layer, nn.Module):
            raise TypeError(f"layer must be an nn.Module, got {type(layer).__name__}")
        self.layer = layer
        self.p = check_probability("p", p, high_open=True)
        self.generator = check_generator(generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            x = dropout(x, self.p, self.generator)
        return self.layer(x)

    def extra_repr(self) -> str:
        return f"p={self.p}"
