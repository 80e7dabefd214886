"""Weight compander: reparametrize each weight as w = f(v), bounded in magnitude, steep near zero.

Equation (element-wise; v is the trained tensor, w the weight the layer uses)::

    w = f(v) = a · tanh(γ · v / a),        ∂L/∂v = γ · (1 − (w/a)²) · ∂L/∂w

a > 0 is the ``bound`` (|w| < a whatever v; ≤ a once tanh rounds to 1) and γ = f'(0) > 0 the ``gain``. With γ > 1 the
compander amplifies the gradient of near-zero weights by up to γ and damps it for weights near
the bound: it limits magnitudes and pulls "dead" weights back into use, the two effects the
paper names. ``learnable=True`` makes a and γ parameters trained with the model, as in the
paper's extension. Built with ``torch.nn.utils.parametrize``: ``layer.weight`` is f(v), computed
on each access, and v lives in ``layer.parametrizations.weight.original``.

``apply_weight_compander(model, bound=1.0, gain=2.0, learnable=False, exclude=())`` registers the
compander on the ``weight`` of every ``nn.Linear`` and ``nn.Conv1d/2d/3d`` of ``model`` (names under
``exclude`` left out; layers already companded are left as they are) and returns the model. The
stored v is set to f⁻¹(w), so the model computes the same function right after (weights beyond
the bound are clipped just inside it). ``remove_weight_compander(model)`` removes it again and
leaves plain weights holding the current values f(v). The pure function is
``reglab.functional.weight_compander(v, bound, gain)``.

Arguments:
    bound: a > 0, the largest magnitude a weight can take (default 1.0).
    gain: γ > 0, the slope of f at 0 (default 2.0; γ = 1 is the identity near 0).
    learnable: bool, train a and γ with the model (default False: buffers).

Returns:
    ``WeightCompander()(v)`` returns f(v), shaped and typed like v.

Example:
    >>> import torch, reglab as rl
    >>> model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    >>> x = torch.randn(3, 4)
    >>> before = model(x)
    >>> model = rl.apply_weight_compander(model, bound=1.0, gain=2.0)
    >>> torch.allclose(model(x), before, atol=1e-5)          # same function right after
    True
    >>> float(model[0].weight.detach().abs().max()) < 1.0
    True
    >>> model = rl.remove_weight_compander(model)           # plain weights, same values
    >>> type(model[0].weight).__name__
    'Parameter'

Reference:
    Rinor Cakaj, Jens Mehnert, Bin Yang. Weight Compander: A Simple Weight Reparameterization for
    Regularization. IJCNN 2023. arXiv:2306.16993.

Reading taken:
    The paper's exact compander function could not be read offline when this was built; the
    abstract asks for a nonlinear per-weight function that restricts magnitudes and forces
    weights away from zero, with learnable hyperparameters. We use the scaled tanh above: it is
    odd, bounded by a, invertible (so applying it keeps the model's function), and its slope γ
    at 0 sets how strongly near-zero weights are pushed. Check the paper before comparing
    numbers with it.

Traps:
    - Build the optimizer after applying it (the trained tensors are the new v), or the
      optimizer keeps updating tensors the model no longer reads.
    - Weight decay acts on v, not on w.
    - With ``learnable=True`` the bound and gain are clamped at 1e-6 from below in the forward.
"""

from __future__ import annotations

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
    v: torch.Tensor, bound: float | torch.Tensor = 1.0, gain: float | torch.Tensor = 2.0
) -> torch.Tensor:
    """f(v) = bound · tanh(gain · v / bound), element-wise."""
    return bound * torch.tanh(v * (gain / bound))


def _sample(ctx: SampleContext) -> Sample:
    return Sample(
        kwargs={"bound": 0.5, "gain": 3.0, "learnable": True},
        inputs=(ctx.x,),
        invalid=({"bound": 0.0}, {"bound": float("inf")}, {"gain": -1.0}, {"learnable": "yes"}),
    )


def apply_weight_compander(
    model: nn.Module,
    bound: float = 1.0,
    gain: float = 2.0,
    learnable: bool = False,
    exclude: Sequence[str] = (),
) -> nn.Module:
    """Compand the weight of every Linear / Conv layer of ``model``; see the module docstring."""
    WeightCompander(bound, gain, learnable)  # check the arguments before touching the model
    if isinstance(exclude, str):
        exclude = (exclude,)
    for name, module in list(model.named_modules()):
        if not isinstance(module, LAYERS) or any(name == e or name.startswith(e + ".") for e in exclude):
            continue
        if parametrize.is_parametrized(module, "weight") and any(
                isinstance(p, WeightCompander) for p in module.parametrizations["weight"]):
            continue
        compander = WeightCompander(bound, gain, learnable).to(module.weight.device, module.weight.dtype)
        parametrize.register_parametrization(module, "weight", compander)
    return model


def remove_weight_compander(model: nn.Module) -> nn.Module:
    """Remove the compander from every layer of ``model``: plain weights holding f(v)."""
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
    """The parametrization w = a·tanh(γv/a); see ``reglab.card("weight-compander")``."""

    bound: torch.Tensor
    gain: torch.Tensor

    def __init__(self, bound: float = 1.0, gain: float = 2.0, learnable: bool = False) -> None:
        super().__init__()
        a = torch.tensor(check_number("bound", bound, low=0.0, low_open=True))
        g = torch.tensor(check_number("gain", gain, low=0.0, low_open=True))
        self.learnable = check_bool("learnable", learnable)
        if self.learnable:
            self.bound, self.gain = nn.Parameter(a), nn.Parameter(g)
        else:
            self.register_buffer("bound", a)
            self.register_buffer("gain", g)

    def _hyper(self, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a, g = self.bound.to(like.dtype), self.gain.to(like.dtype)
        if self.learnable:
            a, g = a.clamp_min(_FLOOR), g.clamp_min(_FLOOR)
        return a, g

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        a, g = self._hyper(v)
        return weight_compander(v, a, g)

    @torch.no_grad()
    def right_inverse(self, w: torch.Tensor) -> torch.Tensor:
        """v = f⁻¹(w) = (a/γ)·atanh(w/a), with |w/a| clipped just below 1."""
        a, g = self._hyper(w)
        inside = 1.0 - torch.finfo(w.dtype).eps * 4
        return (a / g) * torch.atanh((w / a).clamp(-inside, inside))

    def extra_repr(self) -> str:
        return f"bound={float(self.bound):g}, gain={float(self.gain):g}, learnable={self.learnable}"
