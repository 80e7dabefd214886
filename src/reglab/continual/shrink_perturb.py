"""Shrink and perturb: scale the weights down and add noise, after each step or at each task's end.

Equation::

    w ← s·w + σ·ε,     ε ~ N(0, I)                      (``Noise.GAUSSIAN``)
    w ← s·w + σ·w̃,     w̃ a fresh initialization of w     (``Noise.INIT``)

Dohare et al.'s "L2 + perturbation" (Shrink and Perturb in their figures) applies the Gaussian
form after every update, with s = 1 − lr·λ from weight decay λ; Ash & Adams' shrink-and-perturb
applies it once when new data arrives (here: at ``end_task()``), with the noise read as a fresh
initialization scaled by σ (``Noise.INIT``; the issue's reading: we could not check the paper's
text here, so take its values for s and σ from the paper).
Fresh draws follow PyTorch's default initialization: Linear / Conv weights and biases
U(±1/√fan_in), normalization weights 1 and biases 0, embeddings N(0, 1).

Arguments:
    shrink: s in [0, 1].
    noise: σ >= 0, the noise scale.
    params: a module (all its parameters: weights and biases, as both papers perturb them), a
        selection (``reglab.select``) or an iterable of tensors. ``Noise.INIT`` needs a module,
        to know each parameter's layer.
    every: ``Every.STEP`` (after each ``optimizer.step()``) or ``Every.TASK`` (at each
        ``end_task()``, which ``Recipe.end_task()`` forwards).
    source: ``Noise.GAUSSIAN`` or ``Noise.INIT``.
    generator: ``torch.Generator`` for the noise (default: a CPU generator seeded with 0).

Returns:
    Nothing; parameters change in place. ``state_dict()`` holds the generator's state and the
    number of times the update was applied.

Example:
    >>> import torch, reglab as rl
    >>> model = torch.nn.Linear(3, 2)
    >>> opt = torch.optim.SGD(model.parameters(), lr=0.0)
    >>> sp = rl.ShrinkPerturb(0.5, 0.0, model)
    >>> _ = sp.attach(opt)
    >>> before = model.weight.detach().clone()
    >>> opt.step()
    >>> torch.equal(model.weight, before * 0.5)
    True

Reference:
    Shibhansh Dohare, J. Fernando Hernandez-Garcia, Qingfeng Lan, Parash Rahman, A. Rupam
    Mahmood, Richard S. Sutton. Loss of Plasticity in Deep Continual Learning. Nature 632, 2024.
    arXiv:2306.13812. Jordan T. Ash, Ryan P. Adams. On Warm-Starting Neural Network Training.
    NeurIPS 2020. arXiv:1910.08475.

Traps:
    - A module selects *all* its parameters, unlike penalties (which leave out biases and norm
      layers): pass ``reglab.select(model, ...)`` to leave normalization layers out.
    - With ``Every.STEP`` the shrink compounds: s = 0.99 per step leaves 0.99^1000 ≈ 4e-5 of a
      weight after 1000 steps without gradient; Dohare et al.'s s is 1 − lr·λ, very close to 1.
    - The optimizer's state (momentum, Adam moments) is not touched.
    - Noise is drawn on the generator's device and moved to the parameters' device.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from typing import Any

import torch
from torch import nn

from reglab._core.registry import Capabilities, Family, Kind, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.selection import Selection, as_selection, select
from reglab._core.validation import check_choice, check_generator, check_number
from reglab.continual._init import check_known, fresh_like
from reglab._core.post_step import PostStepHook
from reglab.penalties.l2_init import LOSS_OF_PLASTICITY


class Every(Enum):
    """When the update runs."""

    STEP = "step"
    TASK = "task"


class Noise(Enum):
    """What the noise is."""

    GAUSSIAN = "gaussian"  # standard normal ε
    INIT = "init"  # a fresh draw of the layer's default initialization


def shrink_perturb_(
    params: list[torch.Tensor], shrink: float, noise: float, draws: list[torch.Tensor] | None
) -> None:
    """In place, w ← shrink·w + noise·draw for each tensor (``draws=None``: shrink only)."""
    with torch.no_grad():
        torch._foreach_mul_(params, shrink)
        if draws is not None and noise != 0.0:
            torch._foreach_add_(params, draws, alpha=noise)


def _sample(ctx: SampleContext) -> Sample:
    return Sample(
        kwargs={"shrink": 0.9, "noise": 0.01, "params": ctx.model,
                "generator": torch.Generator().manual_seed(5)},
        invalid=({"shrink": 1.5}, {"shrink": -0.1}, {"noise": -1.0}, {"every": "epoch"},
                 {"source": "uniform"}, {"params": []}, {"generator": 1},
                 {"source": Noise.INIT, "params": [torch.zeros(2)]}),
        identity={"shrink": 1.0, "noise": 0.0},
    )


@register(
    "shrink-perturb",
    family=Family.CONTINUAL,
    kind=Kind.POST_STEP,
    paper=LOSS_OF_PLASTICITY,
    sample=_sample,
)
class ShrinkPerturb(PostStepHook):
    """w ← s·w + σ·noise after each step or task; see ``reglab.card("shrink-perturb")``."""

    def __init__(
        self,
        shrink: float,
        noise: float,
        params: Selection | nn.Module | Iterable[torch.Tensor],
        every: Every | str = Every.STEP,
        source: Noise | str = Noise.GAUSSIAN,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.shrink = check_number("shrink", shrink, low=0, high=1)
        self.noise = check_number("noise", noise, low=0)
        self.every = check_choice("every", every, Every)
        self.source = check_choice("source", source, Noise)
        self.generator = check_generator(generator) or torch.Generator().manual_seed(0)
        self.capabilities = Capabilities(needs_task_boundary=self.every is Every.TASK)
        self.owners: list[tuple[nn.Module, str]] = []
        if self.source is Noise.INIT:
            if not isinstance(params, nn.Module):
                raise TypeError(f"params must be a module with source=Noise.INIT, got {type(params).__name__}")
            check_known(params)
            self.owners = [(m, n) for _, m in params.named_modules() for n, _ in m.named_parameters(recurse=False)]
            self.params = [getattr(m, n) for m, n in self.owners]
        else:
            self.params = as_selection(select(params, "all") if isinstance(params, nn.Module) else params).params()
        if not self.params:
            raise ValueError("params selects no parameters; check the model or the selection")
        self.applied = 0

    def _draws(self) -> list[torch.Tensor] | None:
        if self.noise == 0.0:
            return None
        if self.source is Noise.INIT:
            return [fresh_like(m, n, self.generator) for m, n in self.owners]
        g = self.generator
        return [torch.randn(p.shape, dtype=p.dtype, device=g.device, generator=g).to(p.device) for p in self.params]

    def apply(self) -> None:
        """Shrink and perturb now (what each step or ``end_task()`` calls)."""
        shrink_perturb_(self.params, self.shrink, self.noise, self._draws())
        self.applied += 1

    def after_step(self, optimizer: torch.optim.Optimizer) -> None:
        if self.every is Every.STEP:
            self.apply()

    def end_task(self) -> None:
        if self.every is Every.TASK:
            self.apply()

    def state_dict(self) -> dict[str, Any]:
        return {"applied": self.applied, "generator": self.generator.get_state()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if set(state_dict) != {"applied", "generator"}:
            raise ValueError(f"ShrinkPerturb state has the keys 'applied', 'generator', got {sorted(state_dict)}")
        self.applied = int(state_dict["applied"])
        self.generator.set_state(state_dict["generator"])

    def __repr__(self) -> str:
        return (f"ShrinkPerturb(shrink={self.shrink:g}, noise={self.noise:g}, every={self.every.value}, "
                f"source={self.source.value}, params={len(self.params)})")
