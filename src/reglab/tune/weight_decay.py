"""Weight decay per layer (or per weight) learned by implicit hypergradient, alternating with training.

Algorithm (Lorraine, Vicol & Duvenaud, Algorithm 1, with λ = log weight decay)::

    L_T(w, λ) = mean train loss + ½ Σ_t Σ exp(λ_t) ⊙ w_t²          one λ_t per tensor (or per entry)
    repeat hyper_steps times:
        inner_steps SGD steps  w ← w − lr ∇_w L_T(w, λ)             on the next training batches
        p = dL_V/dλ  by ``hypergradient(..., Solver.NEUMANN)``       at the current w (approximate
                                                                     optimum), next train / val batch
        λ ← min(Adam(λ, p, hyper_lr), log(1/lr))                     so lr·exp(λ) <= 1

The hypergradient treats the current w as the inner optimum; with few inner steps this is the
paper's "online" approximation, cheap but biased.

Arguments:
    model: an ``nn.Module``; every trainable parameter tensor gets its own decay.
    train_batches, val_batches: non-empty sequences of (x, y) batches, cycled in order.
    test_batches: optional (x, y) batches, only evaluated for the curves.
    loss_fn: ``(outputs, y) -> scalar`` (default cross-entropy).
    per: ``DecayPer.TENSOR`` (one decay per tensor: per layer weight and bias) or
        ``DecayPer.ELEMENT`` (one per weight, the paper's "millions of hyperparameters").
    init_log_decay: starting log weight decay, a finite number (default −6).
    lr: inner SGD step > 0; hyper_lr: Adam step on λ > 0; inner_steps >= 1; hyper_steps >= 1.
    terms: Neumann terms >= 0; neumann_step: the series' α > 0 (default ``lr``, as in the paper).

Returns:
    ``WeightDecayResult``: ``log_decay`` (name -> tensor, scalar or the parameter's shape),
    ``train``, ``val``, ``test`` (mean loss over all given batches, before the first and after
    each hyper step: hyper_steps + 1 values; ``test`` empty without test batches).

Example:
    >>> import torch, reglab as rl
    >>> g = torch.Generator().manual_seed(0)
    >>> x, xv = torch.randn(32, 5, generator=g), torch.randn(32, 5, generator=g)
    >>> w = torch.randn(5, 3, generator=g)
    >>> model = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    >>> res = rl.learn_weight_decay(model, [(x, (x @ w).argmax(1))], [(xv, (xv @ w).argmax(1))],
    ...                             inner_steps=5, hyper_steps=3)
    >>> sorted(res.log_decay), len(res.val)
    (['0.bias', '0.weight', '2.bias', '2.weight'], 4)

Reference:
    Jonathan Lorraine, Paul Vicol, David Duvenaud. Optimizing Millions of Hyperparameters by
    Implicit Differentiation. AISTATS 2020. arXiv:1911.02590.

Traps:
    - With a small validation set and many hyperparameters (``DecayPer.ELEMENT``) the decays
      overfit the validation set: validation loss falls while test loss rises (the paper's own
      warning, reproduced in ``tests/tune/test_weight_decay.py``). Watch ``test``.
    - λ is clipped at log(1/lr): beyond it SGD on the decay term alone overshoots and diverges
      (our safeguard, not the paper's).
    - Neumann needs α below 2/λ_max(H); α = lr is safe when plain SGD at lr is stable.
    - The model is trained in place; copy it first to keep the original.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from reglab._core.validation import check_choice, check_int, check_number
from reglab.tune.hypergradient import Solver, hypergradient

Batch = tuple[Any, Any]


class DecayPer(Enum):
    """One weight decay per parameter tensor, or one per entry."""

    TENSOR = "tensor"
    ELEMENT = "element"


@dataclass
class WeightDecayResult:
    log_decay: dict[str, torch.Tensor]
    train: list[float] = field(default_factory=list)
    val: list[float] = field(default_factory=list)
    test: list[float] = field(default_factory=list)


def decay_penalty(params: list[torch.Tensor], log_decay: list[torch.Tensor]) -> torch.Tensor:
    """½ Σ_t Σ exp(λ_t) ⊙ w_t² (λ_t a scalar or of w_t's shape)."""
    return 0.5 * sum((lam.exp() * p.square()).sum() for p, lam in zip(params, log_decay))


def _batches(name: str, value: object) -> list[Batch]:
    if not isinstance(value, Sequence) or isinstance(value, torch.Tensor) or not value:
        raise TypeError(f"{name} must be a non-empty sequence of (x, y) batches, got {type(value).__name__}")
    for i, b in enumerate(value):
        if not isinstance(b, (tuple, list)) or len(b) != 2:
            raise TypeError(f"{name}[{i}] must be an (x, y) pair, got {type(b).__name__}")
    return list(value)


def learn_weight_decay(
    model: nn.Module,
    train_batches: Sequence[Batch],
    val_batches: Sequence[Batch],
    test_batches: Sequence[Batch] | None = None,
    *,
    loss_fn: Callable[[torch.Tensor, Any], torch.Tensor] = F.cross_entropy,
    per: DecayPer | str = DecayPer.TENSOR,
    init_log_decay: float = -6.0,
    lr: float = 0.1,
    hyper_lr: float = 0.05,
    inner_steps: int = 10,
    hyper_steps: int = 50,
    terms: int = 20,
    neumann_step: float | None = None,
) -> WeightDecayResult:
    """Alternate SGD on the weights and hypergradient steps on log decay; see the module card."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    train, val = _batches("train_batches", train_batches), _batches("val_batches", val_batches)
    test = [] if test_batches is None else _batches("test_batches", test_batches)
    per = check_choice("per", per, DecayPer)
    init = check_number("init_log_decay", init_log_decay)
    lr = check_number("lr", lr, low=0.0, low_open=True)
    hyper_lr = check_number("hyper_lr", hyper_lr, low=0.0, low_open=True)
    inner_steps = check_int("inner_steps", inner_steps, low=1)
    hyper_steps = check_int("hyper_steps", hyper_steps, low=1)
    terms = check_int("terms", terms, low=0)
    alpha = lr if neumann_step is None else check_number("neumann_step", neumann_step, low=0.0,
                                                          low_open=True)
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    names, params = [n for n, _ in named], [p for _, p in named]
    log_decay = [torch.full(() if per is DecayPer.TENSOR else p.shape, init, dtype=p.dtype,
                            device=p.device, requires_grad=True) for p in params]
    opt = torch.optim.SGD(params, lr=lr)
    max_log = -math.log(lr)
    hyper_opt = torch.optim.Adam(log_decay, lr=hyper_lr)

    def data_loss(ps: list[torch.Tensor], batch: Batch) -> torch.Tensor:
        out = torch.func.functional_call(model, dict(zip(names, ps)), (batch[0],), strict=False)
        return loss_fn(out, batch[1])

    def mean_loss(batches: list[Batch]) -> float:
        with torch.no_grad():
            return sum(float(data_loss(params, b)) for b in batches) / len(batches) if batches else 0.0

    result = WeightDecayResult({})
    for curve, batches in ((result.train, train), (result.val, val), (result.test, test)):
        if batches:
            curve.append(mean_loss(batches))
    t = v = 0
    for _ in range(hyper_steps):
        for _ in range(inner_steps):
            batch = train[t % len(train)]
            t += 1
            opt.zero_grad()
            loss = data_loss(params, batch) + decay_penalty(params, [h.detach() for h in log_decay])
            loss.backward()
            opt.step()
        tb, vb = train[t % len(train)], val[v % len(val)]
        v += 1
        grads = hypergradient(
            lambda ps, hs, b=tb: data_loss(ps, b) + decay_penalty(ps, hs),
            lambda ps, hs, b=vb: data_loss(ps, b),
            params, log_decay, Solver.NEUMANN, terms=terms, step=alpha,
        )
        for h, g in zip(log_decay, grads):
            h.grad = g
        hyper_opt.step()
        with torch.no_grad():  # lr·exp(λ) <= 1: the decay's own SGD step never overshoots zero
            for h in log_decay:
                h.clamp_(max=max_log)
        for curve, batches in ((result.train, train), (result.val, val), (result.test, test)):
            if batches:
                curve.append(mean_loss(batches))
    opt.zero_grad()
    result.log_decay = {n: h.detach() for n, h in zip(names, log_decay)}
    return result


__all__ = ["DecayPer", "WeightDecayResult", "decay_penalty", "learn_weight_decay"]
