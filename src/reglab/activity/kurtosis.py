"""Kurtosis regularization (KURE): pull each tensor's kurtosis to a target, for robust quantization.

Equation (Shkolnik, Chmiel et al., section 4)::

    Kurt[X] = mean_i ( (X_i − μ) / σ )⁴            μ, σ: the mean and (population) standard
                                                   deviation of all entries of X
    R = λ · (1/L) Σ_{l=1..L} ( Kurt[X_l] − K_T )²     K_T = 1.8 (the uniform distribution's)

A uniform distribution has kurtosis 1.8, a Gaussian 3, heavy tails more: driving it to 1.8
makes the tensor's values closer to uniform, which the paper shows is more robust to the
quantization step and bit width chosen after training.

Arguments:
    model: the ``nn.Module`` to hook.
    modules: a module name of ``model`` or a list of them (L = their number).
    strength: λ >= 0, a float or a schedule (1.0 by default, our choice).
    target: K_T, a finite number >= 1 (every distribution has kurtosis >= 1); 1.8 by default.
    weights: True (default, as in the paper): X_l is the hooked module's ``weight``, read
        each step that the module runs; False: X_l is its activation (``site``).
    site: with ``weights=False``, ``Site.OUTPUT`` (default) or ``Site.INPUT``.

Returns:
    ``forward()`` returns a scalar tensor; a zero in eval mode. ``kurtosis(x)`` returns Kurt[x].

Example:
    >>> import torch, reglab as rl
    >>> x = torch.tensor([-1.0, 1.0, -1.0, 1.0], dtype=torch.float64)   # two points: Kurt = 1
    >>> float(rl.activity.kurtosis(x))
    1.0
    >>> model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    >>> with rl.Kurtosis(model, modules=["0", "2"], strength=1.0) as pen:
    ...     _ = model(torch.randn(5, 3))
    ...     bool(pen() >= 0)
    True

Reference:
    Moran Shkolnik, Brian Chmiel, Ron Banner, Gil Shomron, Yury Nahshan, Alex Bronstein, Uri
    Weiser. Robust Quantization: One Model to Rule Them All. NeurIPS 2020. arXiv:2002.07686.

Traps:
    - The paper regularizes the weights of each layer; ``weights=False`` applies the same term to
      activations, which the paper does not evaluate (an extension, not its method).
    - σ is the population standard deviation of the whole tensor (all entries pooled, not per
      channel); a tensor whose entries are all equal has no kurtosis and is refused (NaN).
    - λ: 1.0 is our default; the paper sets λ per model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from reglab._core.registry import Family, Kind, Paper, register
from reglab._core.schedules import Schedule
from reglab._core.validation import check_bool, check_number
from reglab.activity._base import _SILENT, ActivityPenalty, Site, resolve_modules
from reglab.activity.activation_l1 import activity_sample

KURE_PAPER = Paper(
    authors="Moran Shkolnik, Brian Chmiel, Ron Banner, Gil Shomron, Yury Nahshan, Alex Bronstein, "
    "Uri Weiser",
    title="Robust Quantization: One Model to Rule Them All",
    year=2020,
    arxiv="2002.07686",
)


def kurtosis(x: torch.Tensor) -> torch.Tensor:
    """mean(((x − μ) / σ)⁴) over every entry of ``x``, σ the population standard deviation."""
    if x.numel() < 2:
        raise ValueError(f"x must have at least 2 entries, got shape {tuple(x.shape)}")
    centered = x.reshape(-1) - x.mean()
    var = centered.square().mean()
    return centered.pow(4).mean() / var.square()


@register(
    "kurtosis", family=Family.ACTIVITY, kind=Kind.ACTIVITY, paper=KURE_PAPER,
    sample=activity_sample(  # type: ignore[arg-type]
        modules=["0", "2"],
        invalid=({"target": 0.5}, {"target": float("nan")}, {"weights": "yes"},
                 {"modules": ["1"]}),
    ),
)
class Kurtosis(ActivityPenalty):
    """λ · mean_l (Kurt[X_l] − K_T)²; see the module docstring (``reglab.card("kurtosis")``)."""

    def __init__(
        self,
        model: nn.Module,
        modules: str | Sequence[str],
        strength: float | Schedule = 1.0,
        *,
        target: float = 1.8,
        weights: bool = True,
        site: Site | str = Site.OUTPUT,
    ) -> None:
        target = check_number("target", target, low=1.0)
        weights = check_bool("weights", weights)
        if weights:
            for name, module in resolve_modules(model, modules).items():
                w = getattr(module, "weight", None)
                if not isinstance(w, torch.Tensor) or w.numel() < 2:
                    raise ValueError(
                        f"modules: {name!r} ({type(module).__name__}) has no weight tensor of 2 or "
                        "more entries; name a layer with weights, or pass weights=False"
                    )
        super().__init__(model, modules, strength, site=site)  # hooks go on last
        self.target, self.weights = target, weights

    def _record(self, name: str, module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        super()._record(name, module, args, output)
        if self.weights and self._acts.get(name) is not _SILENT:
            self._acts[name] = module.weight

    def value(self, x: torch.Tensor) -> torch.Tensor:
        return (kurtosis(x) - self.target).square() / len(self.modules_names)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, target={self.target}, weights={self.weights}"
