"""Mixout: in training, swap each input neuron's weights for their target values with probability p.

Equation (Lee et al. 2020)::

    w̃ = ( B ⊙ w + (1 − B) ⊙ u − p·u ) / (1 − p),     B_ij = M_j,  M_j ~ Bernoulli(1 − p)

u is the target (by default a snapshot of the weights when mixout is applied: the pretrained
weights), w the current weights. As in the paper, a *neuron* is chosen at random: with probability
p all parameters leaving input neuron j (column j of the (out, in) weight of an ``nn.Linear``,
i.e. the weights that read input feature j) are replaced together by their targets; columns are
drawn independently. The rescale makes E[w̃] = w, and dw̃/dw = B/(1 − p), so gradients reach only
the current weights (u is a buffer). With u = 0 it is dropout of the layer's input features with
one mask for the whole batch. Evaluation uses w. In expectation mixout acts like an adaptive L2
penalty toward u.

``mask=MixoutMask.ENTRY`` draws one Bernoulli per weight entry instead (B_ij ~ Bernoulli(1 − p)
independently): the variant that the official code's README calls "mixconnect", as DropConnect is
to dropout. Earlier versions of this library drew per entry; the paper's method is ``NEURON``.

Arguments:
    linear: the ``nn.Linear`` to wrap; ``Mixout`` shares its weight and bias parameters (an
        optimizer built before the swap keeps working) and is itself an ``nn.Linear``.
    p: probability of swapping a neuron (or entry) to its target, in [0, 1); the paper uses 0.7
        to 0.9.
    target: ``"pretrained"`` (default, also ``None``: a snapshot of the weights now), ``"zero"``,
        or a tensor shaped like the weight.
    mask: ``MixoutMask.NEURON`` (default, the paper: one draw per input feature, shared by its
        column) or ``MixoutMask.ENTRY`` (mixconnect: one draw per weight entry).
    generator: optional ``torch.Generator`` for the masks; its state is kept in ``state_dict()``.

``apply_mixout(model, p=0.9, target="pretrained", exclude=(), generator=None, mask="neuron")``
swaps every ``nn.Linear`` of ``model`` (exact type, names under ``exclude`` left out) for a
``Mixout`` and returns the model, changed in place; layers that are already ``Mixout`` are left as
they are, so applying twice changes nothing more. A model that is itself an ``nn.Linear`` is
returned wrapped. ``nn.Linear`` is the only layer type it swaps, so a neuron is always an input
feature of a Linear layer. The pure function ``reglab.functional.mixout`` takes any tensor of
two or more dimensions and draws one Bernoulli per index of its dimensions after the first (a
column of a matrix), repeated over the first; a 1-D tensor gets one draw per entry.

Returns:
    ``forward(x)`` returns ``x @ w̃ᵀ + b`` with shape (..., out_features), in x's dtype.

Example:
    >>> import torch, reglab as rl
    >>> model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    >>> model = rl.apply_mixout(model, p=0.9)
    >>> type(model[0]).__name__, torch.equal(model[0].target, model[0].weight), model[0].mask.value
    ('Mixout', True, 'neuron')
    >>> out = model(torch.randn(3, 4))          # training: mixed weights
    >>> _ = model.eval()                        # evaluation: the current weights

Reference:
    Cheolhyoung Lee, Kyunghyun Cho, Wanmo Kang. Mixout: Effective Regularization to Finetune
    Large-scale Pretrained Language Models. ICLR 2020. arXiv:1909.11299.
    Official code: github.com/bloodwass/mixout (read to confirm the mask: one Bernoulli per input
    column, repeated over the rows; per entry is what its README calls mixconnect).

Traps:
    - Apply it after loading the pretrained weights: the default target is a snapshot taken at
      apply time. A newly initialized head has no pretrained value; exclude it (``exclude=("head",)``)
      or accept its initialization as the target, as the paper's code does.
    - The official code's backward returns grad·B, leaving out the 1/(1 − p) of its forward; ours
      is the true derivative grad·B/(1 − p). For the same mask our weight gradients are 1/(1 − p)
      times the official code's (10 times at p = 0.9): an SGD learning rate tuned with that code
      corresponds to (1 − p) times it here; Adam-like optimizers barely notice the scale.
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

from reglab._core.generator_state import GeneratorState
from reglab._core.registry import Family, Kind, Paper, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.validation import check_choice, check_generator, check_probability
from reglab.layers._random import keep_mask

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


class MixoutMask(StrEnum):
    """What one Bernoulli draw swaps: an input neuron's column (the paper) or one entry (mixconnect)."""

    NEURON = "neuron"
    ENTRY = "entry"


def mask_shape(shape: torch.Size | tuple[int, ...], mask: MixoutMask) -> tuple[int, ...]:
    """The shape of the Bernoulli draws: (1, *shape[1:]) per neuron (broadcast over rows), else ``shape``."""
    if mask is MixoutMask.NEURON and len(shape) >= 2:
        return (1, *shape[1:])
    return tuple(shape)


def mixout(
    weight: torch.Tensor,
    target: torch.Tensor,
    p: float,
    training: bool = True,
    generator: torch.Generator | None = None,
    mask: MixoutMask | str = MixoutMask.NEURON,
) -> torch.Tensor:
    """(B⊙w + (1−B)⊙u − p·u)/(1−p), B one Bernoulli(1−p) per column (or entry).

    Returns ``weight`` itself in eval or at p = 0.
    """
    kind = check_choice("mask", mask, MixoutMask)
    if not training or p == 0.0:
        return weight
    keep = keep_mask(mask_shape(weight.shape, kind), 1.0 - p, weight, generator)
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
                 {"target": torch.zeros(2)}, {"generator": 0}, {"mask": "column"}),
        identity={"p": 0.0},
        reference=ctx.model[0],
    )


def apply_mixout(
    model: nn.Module,
    p: float = 0.9,
    target: MixoutTarget | str = MixoutTarget.PRETRAINED,
    exclude: Sequence[str] = (),
    generator: torch.Generator | None = None,
    mask: MixoutMask | str = MixoutMask.NEURON,
) -> nn.Module:
    """Swap each ``nn.Linear`` of ``model`` for a ``Mixout``; see the module docstring."""
    p = check_probability("p", p, high_open=True)
    kind = check_choice("target", target, MixoutTarget)
    unit = check_choice("mask", mask, MixoutMask)
    if isinstance(exclude, str):
        raise TypeError(f"exclude must be a sequence of module names, got the string {exclude!r}")
    if type(model) is nn.Linear:
        return Mixout(model, p, kind, generator, unit)

    def excluded(name: str) -> bool:
        return any(name == e or name.startswith(e + ".") for e in exclude)

    found = False
    for name, module in list(model.named_modules()):
        if isinstance(module, Mixout):
            found = True
        elif type(module) is nn.Linear and name and not excluded(name):
            parent_name, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent_name), child, Mixout(module, p, kind, generator, unit))
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
        mask: MixoutMask | str = MixoutMask.NEURON,
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
        self.p = check_probability("p", p, high_open=True)
        self.mask = check_choice("mask", mask, MixoutMask)
        self.register_buffer("target", _target(linear.weight, target))
        self.generator = check_generator(generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = mixout(self.weight, self.target, self.p, self.training, self.generator, self.mask)
        return F.linear(x, weight, self.bias)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, p={self.p}, mask={self.mask.value}"
