"""Weight compander: reparametrize each weight as w = a·arctan(v/b), bounded and steep near zero.

Equation (Cakaj, Mehnert and Yang 2023, eq. 1-4; element-wise, v is the trained tensor, w the
weight the layer uses)::

    w = Ψ(v) = a · arctan(v / b)                                  (1)   a, b > 0
    ∂L/∂v = ∂L/∂Ψ(v) · a / (b · (1 + v²/b²))                      (2-3)
    v = Ψ⁻¹(w) = b · tan(w / a)                                   (4)   initialization of v

a (``scale``) bounds the weights, |w| < aπ/2; b (``stretch``) stretches Ψ along v. The slope
a/b at v = 0 is the largest, so near-zero weights get relatively larger updates than large
ones: the paper's two effects, magnitudes restricted and weights pushed away from zero.
``learnable=True`` trains a and b with the model, one pair per layer (the paper's "fine"
version; its "coarse" version, one pair for the whole network, did worse there and is not
built). Built with ``torch.nn.utils.parametrize``: ``layer.weight`` is Ψ(v), computed on each
access, and v lives in ``layer.parametrizations.weight.original``.

``apply_weight_compander(model, scale=1.0, stretch=0.6, learnable=False, exclude=())``
registers Ψ on the ``weight`` of every ``nn.Linear`` and ``nn.Conv1d/2d/3d`` of ``model``
(biases and norm layers are left alone, as in the paper; names under ``exclude`` left out;
layers already companded are left as they are) and returns the model. v is set to Ψ⁻¹(w) (eq. 4),
so the model computes the same function right after (weights beyond the bound aπ/2 are clipped
just inside it). ``remove_weight_compander(model)`` removes it again and leaves plain weights
holding the current values Ψ(v), as the paper does for inference. The pure function is
``reglab.functional.weight_compander(v, scale, stretch)``.

Arguments:
    scale: a > 0 (default 1.0). The paper assumes a, b >= 0.5 (eq. 4 is then far from the
        tangent's poles for usual initializations) and found a in 0.6-1.0 best (CIFAR, ResNets).
    stretch: b > 0 (default 0.6; the paper's best for ResNet18/50 on CIFAR-10 was a = 1.0,
        b = 0.6, and b in 0.5-0.8 elsewhere).
    learnable: bool, train a and b with the model, one pair per layer (default False: buffers).
        The paper initializes the learnable pair at a = 0.5, b = 1.0.

Returns:
    ``WeightCompander()(v)`` returns Ψ(v), shaped and typed like v.

Example:
    >>> import torch, reglab as rl
    >>> model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    >>> x = torch.randn(3, 4)
    >>> before = model(x)
    >>> model = rl.apply_weight_compander(model, scale=1.0, stretch=0.6)
    >>> torch.allclose(model(x), before, atol=1e-5)          # same function right after
    True
    >>> float(model[0].weight.detach().abs().max()) < 3.1416 / 2   # |w| < aπ/2
    True
    >>> model = rl.remove_weight_compander(model)           # plain weights, same values
    >>> type(model[0].weight).__name__
    'Parameter'

Reference:
    Rinor Cakaj, Jens Mehnert, Bin Yang. Weight Compander: A Simple Weight Reparameterization for
    Regularization. IJCNN 2023. arXiv:2306.16993. (Equations read from the authors' PDF,
    files/WC_IJCNN_2023.pdf in github.com/rinorcakaj/rinorcakaj.github.io; no code released.)

Traps:
    - Build the optimizer after applying it (the trained tensors are the new v), or the
      optimizer keeps updating tensors the model no longer reads.
    - Weight decay: the paper decays w = Ψ(v) when a, b are fixed (to compare with plain
      networks) and only v when they are learned. An optimizer's ``weight_decay`` acts on what
      it holds, v; decaying w needs a penalty on ``layer.weight``.
    - Adam: the paper rescales Adam's step by ∂Ψ/∂v (the modified optimizer of
      Powerpropagation), since Adam undoes the gradient's rescaling. Not built: with a plain
      Adam the compander acts only through its bound.
    - With ``learnable=True`` a and b are clamped at 1e-6 from below in the forward.
    - Other functions the paper tried (a·arsinh(v/b), a·erf(v/b)) are not built.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn.utils import parametrize

from reglab._core.registry import Family, Kind, Paper, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.validation import check_bool, check_number

WEIGHT_COMPANDER = Paper(
    authors="Rinor Cakaj, Jens Mehnert, Bin Yang",
    title="Weight Compander: A Simple Weight Reparameterization for Regularization",
    year=2023,
    arxiv="2306.16993",
)

LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
_FLOOR = 1e-6


def weight_compander(
    v: torch.Tensor, scale: float | torch.Tensor = 1.0, stretch: float | torch.Tensor = 0.6
) -> torch.Tensor:
    """Ψ(v) = scale · arctan(v / stretch), element-wise (the paper's eq. 1, a = scale, b = stretch)."""
    return scale * torch.atan(v / stretch)


def _sample(ctx: SampleContext) -> Sample:
    return Sample(
        kwargs={"scale": 0.5, "stretch": 1.0, "learnable": True},
        inputs=(ctx.x,),
        invalid=({"scale": 0.0}, {"scale": float("inf")}, {"stretch": -1.0}, {"learnable": "yes"}),
    )


def apply_weight_compander(
    model: nn.Module,
    scale: float = 1.0,
    stretch: float = 0.6,
    learnable: bool = False,
    exclude: Sequence[str] = (),
) -> nn.Module:
    """Compand the weight of every Linear / Conv layer of ``model``; see the module docstring."""
    WeightCompander(scale, stretch, learnable)  # check the arguments before touching the model
    if isinstance(exclude, str):
        exclude = (exclude,)
    for name, module in list(model.named_modules()):
        if not isinstance(module, LAYERS) or any(name == e or name.startswith(e + ".") for e in exclude):
            continue
        if parametrize.is_parametrized(module, "weight") and any(
                isinstance(p, WeightCompander) for p in module.parametrizations["weight"]):
            continue
        compander = WeightCompander(scale, stretch, learnable).to(module.weight.device, module.weight.dtype)
        parametrize.register_parametrization(module, "weight", compander)
    return model


def remove_weight_compander(model: nn.Module) -> nn.Module:
    """Remove the compander from every layer of ``model``: plain weights holding Ψ(v)."""
    for module in model.modules():
        if parametrize.is_parametrized(module, "weight") and any(
                isinstance(p, WeightCompander) for p in module.parametrizations["weight"]):
            parametrize.remove_parametrizations(module, "weight", leave_parametrized=True)
    return model


@register(
    "weight-compander",
    family=Family.PARAMETER_PENALTY,
    kind=Kind.LAYER,
    paper=WEIGHT_COMPANDER,
    sample=_sample,
    apply=apply_weight_compander,
)
class WeightCompander(nn.Module):
    """The parametrization w = a·arctan(v/b); see ``reglab.card("weight-compander")``."""

    scale: torch.Tensor
    stretch: torch.Tensor

    def __init__(self, scale: float = 1.0, stretch: float = 0.6, learnable: bool = False) -> None:
        super().__init__()
        a = torch.tensor(check_number("scale", scale, low=0.0, low_open=True))
        b = torch.tensor(check_number("stretch", stretch, low=0.0, low_open=True))
        self.learnable = check_bool("learnable", learnable)
        if self.learnable:
            self.scale, self.stretch = nn.Parameter(a), nn.Parameter(b)
        else:
            self.register_buffer("scale", a)
            self.register_buffer("stretch", b)

    def _hyper(self, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a, b = self.scale.to(like.dtype), self.stretch.to(like.dtype)
        if self.learnable:
            a, b = a.clamp_min(_FLOOR), b.clamp_min(_FLOOR)
        return a, b

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        a, b = self._hyper(v)
        return weight_compander(v, a, b)

    @torch.no_grad()
    def right_inverse(self, w: torch.Tensor) -> torch.Tensor:
        """v = Ψ⁻¹(w) = b·tan(w/a) (eq. 4), with |w/a| clipped just below π/2."""
        a, b = self._hyper(w)
        inside = (math.pi / 2) * (1.0 - torch.finfo(w.dtype).eps * 4)
        return b * torch.tan((w / a).clamp(-inside, inside))

    def extra_repr(self) -> str:
        return f"scale={float(self.scale):g}, stretch={float(self.stretch):g}, learnable={self.learnable}"
