"""Continual backprop: keep replacing a small fraction of mature, low-utility hidden units.

Algorithm (GnT, "generate and test", Dohare et al. 2024), after every ``optimizer.step()``, for
each hidden layer l with units i, h the units' activations on the step's batch (the input of the
next layer, recorded by a forward pre-hook), η = ``decay``::

    a_i ← a_i + 1                                              (age)
    f_i ← η f_i + (1 − η) mean(h_i);      f̂_i = f_i / (1 − η^{a_i})       (mean activation)
    y_i = mean|w_out,i| · mean|h_i − f̂_i| / mean|w_in,i|            (contribution utility)
    u_i ← η u_i + (1 − η) y_i;            û_i = u_i / (1 − η^{a_i})       (bias-corrected)
    E = {i : a_i > maturity};   c_l ← c_l + ρ·|E|;   k = ⌊c_l⌋;   c_l ← c_l − k
    replace the k units of E with the lowest û (ties: lower index):
        w_in,i ~ U(−b, b) (b: ``gain``), bias_i ← 0,
        next bias ← next bias + w_out,i · f̂_i   (absorbs the unit's mean contribution),
        w_out,i ← 0,  a_i ← 0,  u_i ← 0,  f_i ← 0,
        optimizer state of those weights and biases ← 0

All layers are tested first (with the weights after the step), then the units are replaced layer
by layer. Units are the output features of ``nn.Linear`` layers and the output channels of conv
layers; a conv feeding a Linear through ``nn.Flatten`` feeds it H·W columns per channel, and its
utility averages mean|w_out|·mean|h − f̂| over those positions (as the authors' ConvGnT does).

Arguments:
    model: an ``nn.Sequential`` (nested ones are flattened) of Linear / Conv layers with only
        activations, dropout, pooling and flatten modules between them.
    replacement_rate: ρ in [0, 1], units replaced per eligible unit per step (paper: 1e-4).
    maturity: int >= 0, steps a unit must have lived before it can be replaced (paper: 100).
    decay: η in [0, 1), the utility's running-average rate (0.99).
    utility: ``Utility.ADAPTABLE`` (the formula above) or ``Utility.CONTRIBUTION``
        (y_i = mean|w_out,i| · mean|h_i|: no centring, no division by the incoming weights).
    gain: ``None`` draws fresh weights from PyTorch's default U(±1/√fan_in) (as ``nn.Linear`` and
        ``nn.Conv*`` initialize); a float g > 0 draws U(±g·√(3/fan_in)), the authors' "kaiming"
        (g = ``nn.init.calculate_gain("relu")`` = √2 for ReLU nets).
    generator: ``torch.Generator`` for the fresh weights (default: a CPU generator seeded with 0).

Returns:
    Nothing; the model's weights change in place after each step. ``replacements`` maps each
    hidden layer's name to the units replaced so far. Ages, utilities, mean activations,
    counters, counts and the generator's state are in ``state_dict()``.

Example:
    >>> import torch, reglab as rl
    >>> torch.manual_seed(0) and None
    >>> model = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    >>> opt = torch.optim.SGD(model.parameters(), lr=0.01)
    >>> cbp = rl.ContinualBackprop(model, replacement_rate=0.1, maturity=2)
    >>> _ = cbp.attach(opt)
    >>> for _ in range(5):
    ...     opt.zero_grad()
    ...     model(torch.randn(8, 4)).square().mean().backward()
    ...     opt.step()
    >>> cbp.replacements                 # 16 eligible units × 0.1 per step from step 3 on
    {'0': 4}

Reference:
    Shibhansh Dohare, J. Fernando Hernandez-Garcia, Qingfeng Lan, Parash Rahman, A. Rupam
    Mahmood, Richard S. Sutton. Loss of Plasticity in Deep Continual Learning. Nature 632, 2024.
    arXiv:2306.13812. Authors' code (read to check this reading, not copied):
    github.com/shibhansh/loss-of-plasticity, ``lop/algos/gnt.py``, ``convGnT.py``, ``cbp_linear.py``.

Where we differ from the authors' code:
    - Bias correction: in ``gnt.py`` the mean activation of a chosen unit is zeroed before the
      next bias absorbs it, so the absorption adds 0; ``convGnT.py`` has none. We absorb the
      bias-corrected mean before zeroing it, in MLPs and conv nets (for a conv consumer the
      kernel is summed, which ignores zero padding at the borders).
    - Counting: ``gnt.py`` by default replaces one unit with probability ρ·|E| when that is below 1
      (``accumulate=False``); we use its ``accumulate=True`` counter, which is deterministic.
      ``convGnT.py`` accumulates ρ·(all units), not ρ·|E|.
    - Adam: the authors' ``AdamGnT`` keeps a step count per entry and resets it; ``torch.optim.Adam``
      keeps one per tensor, so we zero ``exp_avg`` and ``exp_avg_sq`` (and every other state
      tensor shaped like the parameter: momentum buffers, ``max_exp_avg_sq``) of the touched
      entries and leave ``step``. With the tensor's bias correction near 1, the first updates of
      a fresh entry are about (1 − β₁)/√(1 − β₂) ≈ 3.2 × lr instead of lr, shrinking as its
      moments fill.
    - ``cbp_linear.py`` (``CBPLinear``) replaces units inside the backward pass, so the step that
      follows applies gradients computed for the old unit to the fresh weights (the outgoing
      weights are no longer zero after it) and its optimizer state is not reset; it also uses the
      instantaneous utility. We run after ``optimizer.step()``, as ``gnt.py`` does.

Traps:
    - The utilities use the activations of the last training-mode forward pass before the step;
      a step with no such pass (e.g. only evaluation in between) is skipped entirely (no ageing).
    - ``replacement_rate = 0`` does nothing at all (no ageing, no utilities), as in ``gnt.py``.
    - A layer without bias gets no bias reset, and a next layer without bias absorbs nothing.
    - The last layer's outputs are not units; only layers read by another weight layer are.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

import torch
from torch import nn

from reglab._core.registry import Family, Kind, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.validation import check_choice, check_generator, check_int, check_number
from reglab.continual import _gnt
from reglab.continual._units import unit_pairs
from reglab._core.post_step import PostStepHook
from reglab.penalties.l2_init import LOSS_OF_PLASTICITY


class Utility(Enum):
    """Which contribution utility ranks the units."""

    ADAPTABLE = "adaptable"  # mean|w_out| · mean|h − h̄| / mean|w_in|
    CONTRIBUTION = "contribution"  # mean|w_out| · mean|h|


def _sample(ctx: SampleContext) -> Sample:
    return Sample(
        kwargs={"model": ctx.model, "replacement_rate": 0.5, "maturity": 0,
                "generator": torch.Generator().manual_seed(3)},
        invalid=({"replacement_rate": 1.5}, {"replacement_rate": -0.1}, {"maturity": -1},
                 {"decay": 1.0}, {"gain": 0.0}, {"utility": "best"}, {"model": nn.Linear(2, 2)},
                 {"generator": 3}),
        identity={"replacement_rate": 0.0},
    )


@register(
    "continual-backprop",
    family=Family.CONTINUAL,
    kind=Kind.POST_STEP,
    paper=LOSS_OF_PLASTICITY,
    sample=_sample,
)
class ContinualBackprop(PostStepHook):
    """Replace mature low-utility hidden units after each step; see ``reglab.card("continual-backprop")``."""

    def __init__(
        self,
        model: nn.Module,
        replacement_rate: float = 1e-4,
        maturity: int = 100,
        decay: float = 0.99,
        utility: Utility | str = Utility.ADAPTABLE,
        gain: float | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.pairs = unit_pairs(model)
        self.replacement_rate = check_number("replacement_rate", replacement_rate, low=0, high=1)
        self.maturity = check_int("maturity", maturity, low=0)
        self.decay = check_number("decay", decay, low=0, high=1, high_open=True)
        self.utility_kind = check_choice("utility", utility, Utility)
        self.gain = None if gain is None else check_number("gain", gain, low=0, low_open=True)
        self.generator = check_generator(generator) or torch.Generator().manual_seed(0)
        self.bounds = [_gnt.init_bound(p.layer, self.gain) for p in self.pairs]
        like = [p.layer.weight.detach() for p in self.pairs]
        self.ages = [torch.zeros(p.units, dtype=torch.long, device=w.device) for p, w in zip(self.pairs, like)]
        self.utility = [w.new_zeros(p.units) for p, w in zip(self.pairs, like)]
        self.mean_activation = [w.new_zeros(p.units) for p, w in zip(self.pairs, like)]
        self.accumulated = [0.0] * len(self.pairs)
        self.replacements = {p.name: 0 for p in self.pairs}
        self._features: list[torch.Tensor | None] = [None] * len(self.pairs)
        self._hooks = [p.next.register_forward_pre_hook(self._recorder(i)) for i, p in enumerate(self.pairs)]

    def _recorder(self, i: int) -> Any:
        def record(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
            if module.training:
                self._features[i] = inputs[0].detach()
        return record

    @torch.no_grad()
    def after_step(self, optimizer: torch.optim.Optimizer) -> None:
        features, self._features = self._features, [None] * len(self.pairs)
        if self.replacement_rate == 0 or any(h is None for h in features):
            return
        chosen = [self._test(i, h) for i, h in enumerate(features)]  # type: ignore[arg-type]
        for i, (idx, mean) in enumerate(chosen):
            if idx is None:
                continue
            pair = self.pairs[i]
            _gnt.replace_units_(pair, idx, mean, self.bounds[i], self.generator)
            _gnt.reset_optimizer_entries_(optimizer, pair, idx)
            self.ages[i][idx] = 0
            self.replacements[pair.name] += len(idx)

    def _test(self, i: int, h: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor]:
        """Age and utility update of layer i; the units to replace and the corrected mean activation."""
        pair, d = self.pairs[i], self.decay
        self.ages[i] += 1
        hp = _gnt.by_position(pair, h.to(self.utility[i].dtype))
        correction = 1 - d ** self.ages[i].to(hp.dtype)
        self.mean_activation[i].mul_(d).add_(hp.mean((0, 2)), alpha=1 - d)
        mean = self.mean_activation[i] / correction
        adaptable = self.utility_kind is Utility.ADAPTABLE
        self.utility[i].mul_(d).add_(_gnt.new_utility(pair, hp, mean, adaptable), alpha=1 - d)
        eligible = self.ages[i] > self.maturity
        count = int(eligible.sum())
        if count == 0:
            return None, mean
        self.accumulated[i] += self.replacement_rate * count
        k = int(self.accumulated[i])
        self.accumulated[i] -= k
        if k == 0:
            return None, mean
        idx = _gnt.lowest(self.utility[i] / correction, eligible, min(k, count))
        self.utility[i][idx] = 0
        self.mean_activation[i][idx] = 0
        return idx, mean

    def remove(self) -> None:
        """Detach from the optimizer and remove the forward pre-hooks that record activations."""
        self.detach()
        for handle in self._hooks:
            handle.remove()
        self._hooks = []

    def state_dict(self) -> dict[str, Any]:
        return {
            "ages": [a.clone() for a in self.ages],
            "utility": [u.clone() for u in self.utility],
            "mean_activation": [m.clone() for m in self.mean_activation],
            "accumulated": list(self.accumulated),
            "replacements": dict(self.replacements),
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        keys = {"ages", "utility", "mean_activation", "accumulated", "replacements", "generator"}
        if set(state_dict) != keys:
            raise ValueError(f"ContinualBackprop state has the keys {sorted(keys)}, got {sorted(state_dict)}")
        if len(state_dict["ages"]) != len(self.pairs) or set(state_dict["replacements"]) != set(self.replacements):
            raise ValueError("ContinualBackprop state was saved for a model with other hidden layers")
        for name in ("ages", "utility", "mean_activation"):
            for mine, saved in zip(getattr(self, name), state_dict[name]):
                mine.copy_(saved)
        self.accumulated = [float(c) for c in state_dict["accumulated"]]
        self.replacements = {k: int(v) for k, v in state_dict["replacements"].items()}
        self.generator.set_state(state_dict["generator"])

    def __repr__(self) -> str:
        return (f"ContinualBackprop(replacement_rate={self.replacement_rate:g}, maturity={self.maturity}, "
                f"decay={self.decay:g}, utility={self.utility_kind.value}, layers={len(self.pairs)})")
