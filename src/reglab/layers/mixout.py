"""Mixout: in training, swap each weight for its target (pretrained) value with probability p.

Equation (Lee et al. 2020)::

    w̃ = ( B ⊙ w + (1 − B) ⊙ u − p·u ) / (1 − p),     B_ij ~ Bernoulli(1 − p)

u is the target (by default a snapshot of the weights when mixout is applied: the pretrained
weights), w the current weights. The rescale makes E[w̃] = w, and dw̃/dw = B/(1 − p), so gradients
reach only the current weights (u is a buffer). With u = 0 it is DropConnect (dropout on the
weights). Evaluation uses w. In expectation mixout acts like an adaptive L2 penalty toward u.

Arguments:
    linear: the ``nn.Linear`` to wrap; ``Mixout`` shares its weight and bias parameters (an
        optimizer built before the swap keeps working) and is itself an ``nn.Linear``.
    p: probability of swapping an entry to its target, in [0, 1); the paper uses 0.7 to 0.9.
    target: ``"pretrained"`` (default, also ``None``: a snapshot of the weights now), ``"zero"``
        (DropConnect), or a tensor shaped like the weight.
    generator: optional ``torch.Generator`` for the masks; its state is kept in ``state_dict()``.

``apply_mixout(model, p=0.9, target="pretrained", exclude=(), generator=None)`` swaps every
``nn.Linear`` of ``model`` (exact type, names under ``exclude`` left out) for a ``Mixout`` and returns
the model, changed in place; layers that are already ``Mixout`` are left as they are, so applying
twice changes nothing more. A model that is itself an ``nn.Linear`` is returned wrapped.

Returns:
    ``forward(x)`` returns ``x @ w̃ᵀ + b`` with shape (..., out_features), in x's dtype.

Example:
    >>> import torch, reglab as rl
    >>> model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    >>> model = rl.apply_mixout(model, p=0.9)
    >>> type(model[0]).__name__, torch.equal(model[0].target, model[0].weight)
    ('Mixout', True)
    >>> out = model(torch.randn(3, 4))          # training: mixed weights
    >>> _ = model.eval()                        # evaluation: the current weights

Reference:
    Cheolhyoung Lee, Kyunghyun Cho, Wanmo Kang. Mixout: Effective Regularization to Finetune
    Large-scale Pretrained Language Models. ICLR 2020. arXiv:1909.11299.

Traps:
    - Apply it after loading the pretrained weights: the default target is a snapshot taken at
      apply time. A newly initialized head has no pretrained value; exclude it (``exclude=("head",)``)
      or accept its initialization as the target, as the paper's code does.
    - Only modules whose type is exactly ``nn.Linear`` are swapped; ``nn.MultiheadAttention``
      reads its projection weights directly, so its projections are not mixed.
    - The bias is not mixed (as in the paper's code); ``state_dict`` gains a ``target`` buffer.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

import torch
import torch.nn.functional as F
from torch import nn

from reglab._core.registry import Family, Kind, Paper, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.validation import check_choice
from reglab._core.validation import check_generator
from reglab.layers._random import GeneratorState, check_probability, keep_mask

MIXOUT = Paper(
    authors="Cheolhyoung Lee, Kyunghyun Cho, Wanmo Kang",
    title="Mixout: Effective Regularization to Finetune Large-scale Pretrained Language Models",
    year=2020,
    arxiv="1909.11299",
)


class MixoutTarget(StrEnum):
    """What the weights are mixed with."""

    PRETRAINED = "pretrained"
    ZERO = "zero"


def mixout(
    weight: torch.Tensor,
    target: torch.Tensor,
    p: float,
    training: bool = True,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """(B⊙w + (1−B)⊙u − p·u)/(1−p) with B ~ Bernoulli(1−p); ``weight`` itself in eval or at p = 0."""
    if not training or p == 0.0:
        return weight
    keep = keep_mask(weight.shape, 1.0 - p, weight, generator)
    return (keep * weight + (1.0 - p - keep) * target) / (1.0 - p)


def _target(weight: torch.Tensor, target: torch.Tensor | MixoutTarget | str | None) -> torch.Tensor:
    if isinstance(target, torch.Tensor):
        if target.shape != weight.shape:
            raise ValueError(f"target must have the weight's shape {tuple(weight.shape)}, got {tuple(target.shape)}")
        return target.detach().to(dtype=weight.dtype, device=weight.device).clone()
    kind = MixoutTarget.PRETRAINED if target is None else check_choice("target", target, MixoutTarget)
    return weight.detach().clone() if kind is MixoutTarget.PRETRAINED else torch.zeros_like(weight.detach())


def _sample(ctx: SampleContext) -> Sample:
    return Sample(
        kwargs={"linear": ctx.model[0], "p": 0.5},
        inputs=(ctx.x,),
        invalid=({"p": -0.1}, {"p": 1.0}, {"linear": nn.ReLU()}, {"target": "zeros"},
                 {"target": torch.zeros(2)}, {"generator": 0}),
        identity={"p": 0.0},
        reference=ctx.model[0],
    )


def apply_mixout(
    model: nn.Module,
    p: float = 0.9,
    target: MixoutTarget | str = MixoutTarget.PRETRAINED,
    exclude: Sequence[str] = (),
    generator: torch.Generator | None = None,
) -> nn.Module:
    """Swap each ``nn.Linear`` of ``model`` for a ``Mixout``; see the module docstring."""
    p = check_probability("p", p)
    kind = check_choice("target", target, MixoutTarget)
    if isinstance(exclude, str):
        raise TypeError(f"exclude must be a sequence of module names, got the string {exclude!r}")
    if type(model) is nn.Linear:
        return Mixout(model, p, kind, generator)

    def excluded(name: str) -> bool:
        return any(name == e or name.startswith(e + ".") for e in exclude)

    found = False
    for name, module in list(model.named_modules()):
        if isinstance(module, Mixout):
            found = True
        elif type(module) is nn.Linear and name and not excluded(name):
            parent_name, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent_name), child, Mixout(module, p, kind, generator))
            found = True
    if not found:
        raise ValueError(f"model has no nn.Linear layers for mixout (exclude={list(exclude)})")
    return model


@register(
    "mixout",
    family=Family.LAYER,
    kind=Kind.LAYER,
    paper=MIXOUT,
    sample=_sample,
    apply=apply_mixout,
)
class Mixout(GeneratorState, nn.Linear):
    """An ``nn.Linear`` whose weights are mixed with a target in training; see ``reglab.card("mixout")``."""

    target: torch.Tensor

    def __init__(
        self,
        linear: nn.Linear,
        p: float = 0.9,
        target: torch.Tensor | MixoutTarget | str | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        if not isinstance(linear, nn.Linear):
            raise TypeError(f"linear must be an nn.Linear, got {type(linear).__name__}")
        nn.Module.__init__(self)
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.weight = linear.weight
        if linear.bias is None:
            self.register_parameter("bias", None)
        else:
            self.bias = linear.bias
        self.p = check_probability("p", p)
        self.register_buffer("target", _target(linear.weight, target))
        self.generator = check_generator(generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = mixout(self.weight, self.target, self.p, self.training, self.generator)
        return F.linear(x, weight, self.bias)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, p={self.p}"
