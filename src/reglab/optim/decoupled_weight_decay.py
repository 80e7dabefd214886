"""Decoupled weight decay: shrink the weights outside the gradient, around any optimizer.

Equation (per parameter group, before the inner optimizer's step)::

    w ← w − η·λ·w        (lr_scaled=True:  PyTorch's AdamW / SGDW convention)
    w ← w − λ·w          (lr_scaled=False: independent of the learning rate)

η is the group's current learning rate (so an LR scheduler also schedules the decay) and λ the
group's ``reglab_weight_decay`` (``weight_decay`` unless you set it per group). The decay is one
``torch._foreach_mul_`` per group over the parameters that have a gradient, exactly as
``torch.optim.AdamW`` does before its Adam update: ``DecoupledWeightDecay(Adam(...), wd)`` follows
``AdamW(..., weight_decay=wd)`` step for step. With SGD inside it is SGDW.

Arguments:
    optimizer: the inner ``torch.optim.Optimizer``; its own ``weight_decay`` must be 0. It may be
        a closure-evaluating wrapper such as SAM: the decay then runs after SAM's passes (the
        gradients are taken at the undecayed weights), right before the inner step.
    weight_decay: λ >= 0, a float or a schedule (``rl.schedules``) evaluated at the wrapper's step
        counter (written into every parameter group as ``reglab_weight_decay``).
    params: ``None`` (every parameter the optimizer updates) or a selection, module or iterable
        of tensors (a module means its "weights": no biases, norm layers or embeddings); only
        these tensors are decayed.
    lr_scaled: bool, multiply the decay by the group's learning rate (default True); written
        into every parameter group as ``reglab_lr_scaled``.

Returns:
    ``step(closure=None)`` returns the closure's loss (or ``None``); it works without a closure.

Example:
    >>> import torch, reglab as rl
    >>> model = torch.nn.Linear(3, 1)
    >>> opt = rl.DecoupledWeightDecay(torch.optim.Adam(model.parameters(), lr=1e-3),
    ...                               weight_decay=1e-2, params=model)   # weights only, not bias
    >>> loss = model(torch.randn(4, 3)).pow(2).mean()
    >>> loss.backward()
    >>> opt.step()
    >>> opt.zero_grad()

Reference:
    Ilya Loshchilov, Frank Hutter. Decoupled Weight Decay Regularization. ICLR 2019.
    arXiv:1711.05101. The learning-rate independent variant is studied in Mitchell Wortsman et
    al., Small-scale proxies for large-scale Transformer training instabilities. ICLR 2024.
    arXiv:2309.14322 ("independent" decay: λ·η_t/η_max instead of the learning rate times λ).

Reading taken:
    The paper decays by η_t·λ with η_t the schedule multiplier, not the learning rate α; PyTorch's
    AdamW multiplies by the learning rate α·η_t. ``lr_scaled=True`` is PyTorch's convention (so it
    can be checked against AdamW); ``lr_scaled=False`` is the constant-rate decay λ. Wortsman et
    al.'s λ·η_t/η_max equals ``lr_scaled=True`` with ``weight_decay = λ/η_max``.

Traps:
    - Weight decay in the inner optimizer as well would decay twice: the constructor refuses an
      inner group with ``weight_decay != 0`` (AdamW's default is 0.01: use Adam inside).
    - With ``lr_scaled=True`` the best λ depends on the learning rate (λ·η is what matters); the
      paper's claim that the best decay is independent of the learning rate holds for λ·η_t.
    - Parameters without a gradient (frozen, or unused this step) are not decayed, as in AdamW.
    - The closure, when given, is evaluated once before the decay (the gradient is taken at the
      undecayed weights, as in AdamW) and the inner step is called without it, so inner
      optimizers that need a closure of their own (LBFGS) are not supported; reglab's
      closure-evaluating wrappers (SAM, ...) are, the closure being passed through to them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from reglab._core.registry import Family, Kind, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.schedules import Schedule
from reglab._core.selection import Selection, optimizer_selection
from reglab._core.validation import check_bool
from reglab.optim._wrapper import PreStepWrapper, as_float, check_hyper
from reglab.penalties.l2 import DECOUPLED_WEIGHT_DECAY

GROUP_KEY = "reglab_weight_decay"
LR_SCALED_KEY = "reglab_lr_scaled"


def decoupled_weight_decay_(params: list[torch.Tensor], rate: float | torch.Tensor) -> None:
    """w ← (1 − rate)·w in place for every tensor of ``params``, with one foreach call."""
    if params:
        torch._foreach_mul_(params, 1.0 - rate)


def _sample(ctx: SampleContext) -> Sample:
    return Sample(
        kwargs={"optimizer": ctx.optimizer(), "weight_decay": 0.1},
        invalid=(
            {"weight_decay": -0.1}, {"optimizer": ctx.model}, {"lr_scaled": "yes"},
            {"params": [torch.zeros(2, 2)]}, {"params": []},
            {"optimizer": torch.optim.SGD(ctx.model.parameters(), lr=0.1, weight_decay=0.1)},
        ),
        identity={"weight_decay": 0.0},
    )


@register(
    "decoupled-weight-decay",
    family=Family.PARAMETER_PENALTY,
    kind=Kind.OPTIMIZER,
    paper=DECOUPLED_WEIGHT_DECAY,
    sample=_sample,
)
class DecoupledWeightDecay(PreStepWrapper):
    """Decay w ← w − η·λ·w before the inner step; see ``reglab.card("decoupled-weight-decay")``."""

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        weight_decay: float | Schedule = 1e-2,
        params: Selection | nn.Module | Iterable[torch.Tensor] | None = None,
        lr_scaled: bool = True,
    ) -> None:
        rate = check_hyper("weight_decay", weight_decay)
        check_bool("lr_scaled", lr_scaled)
        if isinstance(optimizer, torch.optim.Optimizer):
            inner = [g.get("weight_decay", 0) for g in optimizer.param_groups]
            if any(inner):
                raise ValueError(
                    f"optimizer already applies weight_decay={inner}; set it to 0 so that the decay "
                    "is not applied twice (use Adam, not AdamW, inside)"
                )
        super().__init__(optimizer, {GROUP_KEY: as_float(rate), LR_SCALED_KEY: lr_scaled})
        for group in self.param_groups:
            check_hyper("weight_decay", group[GROUP_KEY])
            check_bool("lr_scaled", group[LR_SCALED_KEY])
        self._only = optimizer_selection(optimizer, params)

    def _decayed(self, group: dict[str, Any]) -> list[torch.Tensor]:
        return [p for p in group["params"]
                if p.grad is not None and (self._only is None or id(p) in self._only)]

    def _rewrite(self) -> None:
        for group in self.param_groups:
            decay = self._value(group, GROUP_KEY)
            if decay:
                rate = group["lr"] * decay if group[LR_SCALED_KEY] else decay
                decoupled_weight_decay_(self._decayed(group), rate)

    def __repr__(self) -> str:
        chosen = "all" if self._only is None else f"{len(self._only)} tensors"
        return (f"{type(self).__name__}({type(self.optimizer).__name__}, "
                f"lr_scaled={[g[LR_SCALED_KEY] for g in self.param_groups]}, "
                f"params={chosen}, weight_decay={[g[GROUP_KEY] for g in self.param_groups]})")
