"""Multi-sample dropout: K dropout masks on the same features, one shared head, the loss averaged.

Equation (Inoue 2019)::

    L = (1/K) Σ_k loss( head( m_k ⊙ h / (1 − p) ), y ),     m_k ~ Bernoulli(1 − p) i.i.d.

h is the feature tensor entering the head (the output of the shared feature extractor). Only the
head runs K times, so the extra cost is the head's. Evaluation is one pass without dropout.

Arguments:
    head: the module after the dropout (e.g. the classifier); it must return a tensor whose first
        dimension is the batch.
    p: dropout probability in [0, 1); at p = 0 the K samples would be identical, so the plain
        output is returned.
    samples: K >= 1, the number of dropout samples (8 is typical).
    generator: optional ``torch.Generator`` for the masks; its state is kept in ``state_dict()``.

``apply_multi_sample_dropout(model, p=0.5, samples=8, head=None)`` wraps the head of ``model``
(the submodule named ``head``, or by default the last ``nn.Linear``) in a ``MultiSampleDropout``
and returns the model, changed in place; applying it again changes nothing more.

Returns:
    In training (p > 0): a ``SampleOutputs`` (``reglab._core.outputs``), a tuple of K head
    outputs for the batch.
    ``reglab.Recipe`` averages the loss over them; in a plain loop use
    ``multi_sample_loss(loss_fn, outputs, y)``. In eval mode: the head's output for the batch.

Example:
    >>> import torch, torch.nn.functional as F, reglab as rl
    >>> head = rl.MultiSampleDropout(torch.nn.Linear(16, 3), p=0.5, samples=4)
    >>> h, y = torch.randn(8, 16), torch.randint(0, 3, (8,))
    >>> outputs = head(h)
    >>> len(outputs), outputs[0].shape
    (4, torch.Size([8, 3]))
    >>> loss = rl.multi_sample_loss(F.cross_entropy, outputs, y)   # mean of the 4 losses
    >>> head.eval()(h).shape
    torch.Size([8, 3])

Reference:
    Hiroshi Inoue. Multi-Sample Dropout for Accelerated Training and Better Generalization. 2019.
    arXiv:1905.09788.

Traps:
    - The head runs once on the K copies stacked along the batch (K·N rows), which is faster
      than K calls; a head with batch statistics (BatchNorm in training) sees the K copies together.
    - Average the losses, not the logits: the paper averages the K losses; the loss of the mean
      logits is a different objective.
    - In training the output is a tuple, so code that expects a tensor must go through
      ``multi_sample_loss`` (or ``Recipe``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from reglab._core.generator_state import GeneratorState
from reglab._core.outputs import SampleOutputs
from reglab._core.registry import Family, Kind, Paper, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.validation import check_generator, check_int, check_probability
from reglab.layers._random import dropout
from reglab.layers._surgery import final_layer_name, wrap_module

MULTI_SAMPLE_DROPOUT = Paper(
    authors="Hiroshi Inoue",
    title="Multi-Sample Dropout for Accelerated Training and Better Generalization",
    year=2019,
    arxiv="1905.09788",
)


def multi_sample_dropout(
    x: torch.Tensor,
    head: Callable[[torch.Tensor], torch.Tensor],
    p: float,
    samples: int,
    generator: torch.Generator | None = None,
) -> SampleOutputs:
    """``samples`` outputs ``head(dropout_k(x))`` with independent masks, from one batched head call."""
    stacked = x.unsqueeze(0).expand(samples, *x.shape)
    out = head(dropout(stacked, p, generator).flatten(0, 1))
    return SampleOutputs(out.unflatten(0, (samples, x.shape[0])).unbind(0))


def multi_sample_loss(loss_fn: Callable[..., torch.Tensor], outputs: Any, *args: Any) -> torch.Tensor:
    """(1/K) Σ_k loss_fn(out_k, *args) for ``SampleOutputs``; ``loss_fn(outputs, *args)`` otherwise."""
    if isinstance(outputs, SampleOutputs):
        return outputs.mean_loss(loss_fn, *args)
    return loss_fn(outputs, *args)


def apply_multi_sample_dropout(
    model: nn.Module,
    p: float = 0.5,
    samples: int = 8,
    head: str | None = None,
    generator: torch.Generator | None = None,
) -> nn.Module:
    """Wrap the head of ``model`` (named, or the last ``nn.Linear``); see the module docstring."""
    p, samples = check_probability("p", p, high_open=True), check_int("samples", samples, low=1)
    name = final_layer_name(model, head, "head")
    return wrap_module(
        model, name, MultiSampleDropout, lambda module: MultiSampleDropout(module, p, samples, generator)
    )


def _sample(ctx: SampleContext) -> Sample:
    return Sample(
        kwargs={"head": ctx.model, "p": 0.5, "samples": 3},
        inputs=(ctx.x,),
        invalid=({"p": 1.0}, {"p": -0.5}, {"samples": 0}, {"samples": 2.5}, {"head": "linear"}),
        identity={"p": 0.0},
        reference=ctx.model,
    )


@register(
    "multi-sample-dropout",
    family=Family.LAYER,
    kind=Kind.LAYER,
    paper=MULTI_SAMPLE_DROPOUT,
    sample=_sample,
    apply=apply_multi_sample_dropout,
)
class MultiSampleDropout(GeneratorState, nn.Module):
    """Dropout sampled K times before a shared head; see ``reglab.card("multi-sample-dropout")``."""

    def __init__(
        self,
        head: nn.Module,
        p: float = 0.5,
        samples: int = 8,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(head, nn.Module):
            raise TypeError(f"head must be an nn.Module, got {type(head).__name__}")
        self.head = head
        self.p = check_probability("p", p, high_open=True)
        self.samples = check_int("samples", samples, low=1)
        self.generator = check_generator(generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor | SampleOutputs:
        if not self.training or self.p == 0.0:
            return self.head(x)
        return multi_sample_dropout(x, self.head, self.p, self.samples, self.generator)

    def extra_repr(self) -> str:
        return f"p={self.p}, samples={self.samples}"
