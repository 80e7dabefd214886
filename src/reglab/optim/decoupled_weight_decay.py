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
    optimizer: the inner ``torch.optim.Optimizer``; its own ``weight_decay`` must be 0.
    weight_decay: λ >= 0 (written into every parameter group as ``reglab_weight_decay``).
    params: ``None`` (every parameter the optimizer updates) or a selection, module or iterable
        of tensors (a module means its "weights": no biases, norm layers or embeddings); only
        these tensors are decayed.
    lr_scaled: bool, multiply the decay by the group's learning rate (default True).

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
      optimizers that need a closure of their own (LBFGS) are not supported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from reglab._core.registry import Family, Kind, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.selection import Selection, as_selection
from reglab._core.validation import check_bool, check_number
from reglab.optim._wrapper import OptimizerWrapper
from reglab.penalties.l2 import DECOUPLED_WEIGHT_DECAY

GROUP_KEY = "reglab_weight_decay"


def decoupled_weight_decay_(params: list[torch.Tensor], rate: float | torch.Tensor) -> None:
    """w ← (1 − rate)·w in place for every tensor of ``params``, with one foreach call."""
    if params:
        torch._foreach_mul_(params, 1.0 - rate)


def _chosen(
    optimizer: torch.optim.Optimizer, params: Selection | nn.Module | Iterable[torch.Tensor] | None
) -> frozenset[int] | None:
    """Ids of the tensors to act on (``None``: all), checked to be updated by ``optimizer``."""
    if params is None:
        return None
    chosen = as_selection(params)
    known = {id(p) for g in optimizer.param_groups for p in g["params"]}
    strangers = [name for name, p in chosen.named if id(p) not in known]
    if strangers:
        raise ValueError(f"params holds tensors the optimizer does not update: {strangers}")
    return frozenset(id(p) for p in chosen)


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
class DecoupledWeightDecay(OptimizerWrapper):
    """Decay w ← w − η·λ·w before the inner step; see ``reglab.card("decoupled-weight-decay")``."""

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        weight_decay: float = 1e-2,
        params: Selection | nn.Module | Iterable[torch.Tensor] | None = None,
        lr_scaled: bool = True,
    ) -> None:
        rate = check_number("weight_decay", weight_decay, low=0.0)
        check_bool("lr_scaled", lr_scaled)
        if isinstance(optimizer, torch.optim.Optimizer):
            inner = [g.get("weight_decay", 0) for g in optimizer.param_groups]
            if any(inner):
                raise ValueError(
                    f"optimizer already applies weight_decay={inner}; set it to 0 so that the decay "
                    "is not applied twice (use Adam, not AdamW, inside)"
                )
        super().__init__(optimizer, {GROUP_KEY: rate})
        self.lr_scaled = lr_scaled
        self._only = _chosen(optimizer, params)

    def _decayed(self, group: dict[str, Any]) -> list[torch.Tensor]:
        return [p for p in group["params"]
                if p.grad is not None and (self._only is None or id(p) in self._only)]

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            decay = group[GROUP_KEY]
            if decay:
                rate = group["lr"] * decay if self.lr_scaled else decay
                decoupled_weight_decay_(self._decayed(group), rate)
        self.optimizer.step()
        return loss

    def __repr__(self) -> str:
        chosen = "all" if self._only is None else f"{len(self._only)} tensors"
        return (f"{type(self).__name__}({type(self.optimizer).__name__}, lr_scaled={self.lr_scaled}, "
                f"params={chosen}, weight_decay={[g[GROUP_KEY] for g in self.param_groups]})")
