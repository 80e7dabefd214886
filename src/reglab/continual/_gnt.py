"""The generate-and-test step of continual backprop on one hidden layer, as plain tensor functions.

Each function works on one :class:`~reglab.continual._units.UnitPair` and is called by
``ContinualBackprop`` in the order of GnT (Dohare et al.): update every layer's utilities and
choose its units first, then replace them layer by layer.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from reglab.continual._units import UnitPair


def by_position(pair: UnitPair, h: torch.Tensor) -> torch.Tensor:
    """The consumer's input as (examples, units, positions); a conv consumer folds positions into examples."""
    if isinstance(pair.next, nn.Linear):
        return h.reshape(-1, pair.units, pair.positions)
    return pair.unit_view(h).unsqueeze(-1)


def outgoing_magnitude(pair: UnitPair) -> torch.Tensor:
    """Mean |outgoing weight| per unit and position, (units, positions)."""
    w = pair.next.weight.detach().abs()
    if isinstance(pair.next, nn.Linear):
        return w.mean(0).reshape(pair.units, pair.positions)
    return pair.outgoing().detach().abs().mean((0, 2)).unsqueeze(-1)


def incoming_magnitude(pair: UnitPair) -> torch.Tensor:
    """Mean |incoming weight| per unit, (units,)."""
    w = pair.layer.weight.detach()
    return w.abs().reshape(w.shape[0], -1).mean(1)


def new_utility(pair: UnitPair, hp: torch.Tensor, mean: torch.Tensor, adaptable: bool) -> torch.Tensor:
    """This step's utility per unit from ``hp`` (examples, units, positions).

    adaptable: mean|w_out| · mean|h − h̄| / mean|w_in|   (GnT ``adaptable_contribution``)
    otherwise: mean|w_out| · mean|h|                    (GnT ``contribution``)
    Products are taken per position and then averaged, as ConvGnT does for a conv feeding a Linear.
    """
    centred = hp - mean[None, :, None] if adaptable else hp
    util = (outgoing_magnitude(pair) * centred.abs().mean(0)).mean(-1)
    return util / incoming_magnitude(pair) if adaptable else util


def lowest(utility: torch.Tensor, eligible: torch.Tensor, k: int) -> torch.Tensor:
    """Indices (ascending) of the ``k`` eligible units of lowest utility; ties go to the lower index."""
    candidates = eligible.nonzero().flatten()
    order = torch.argsort(utility[candidates], stable=True)[:k]
    return candidates[order].sort().values


def outgoing_index(pair: UnitPair, idx: torch.Tensor) -> tuple[slice, torch.Tensor]:
    """Index of the consumer's weight entries that read the units ``idx``."""
    if pair.positions == 1:
        return slice(None), idx
    cols = idx[:, None] * pair.positions + torch.arange(pair.positions, device=idx.device)
    return slice(None), cols.flatten()


def init_bound(layer: nn.Module, gain: float | None) -> float:
    """U(−b, b) bound of fresh incoming weights: 1/√fan_in (PyTorch's default) or gain·√(3/fan_in)."""
    fan_in = layer.weight[0].numel()
    return 1.0 / math.sqrt(fan_in) if gain is None else gain * math.sqrt(3.0 / fan_in)


@torch.no_grad()
def replace_units_(
    pair: UnitPair, idx: torch.Tensor, mean: torch.Tensor, bound: float, generator: torch.Generator
) -> None:
    """Fresh incoming weights, zero bias, the next bias absorbs ``mean``'s contribution, zero outgoing."""
    w = pair.layer.weight
    fresh = torch.empty((len(idx), *w.shape[1:]), dtype=w.dtype, device=generator.device)
    w[idx] = fresh.uniform_(-bound, bound, generator=generator).to(w.device)
    if pair.layer.bias is not None:
        pair.layer.bias[idx] = 0
    out = pair.outgoing()
    if pair.next.bias is not None:
        pair.next.bias += out[:, idx, :].sum(-1) @ mean[idx]
    pair.next.weight[outgoing_index(pair, idx)] = 0


@torch.no_grad()
def reset_optimizer_entries_(optimizer: torch.optim.Optimizer, pair: UnitPair, idx: torch.Tensor) -> None:
    """Zero every per-entry state tensor (momentum, Adam moments) of the touched weights and biases.

    Scalar state such as Adam's per-tensor ``step`` is left alone (see the card).
    """
    touched = [(pair.layer.weight, idx), (pair.next.weight, outgoing_index(pair, idx))]
    if pair.layer.bias is not None:
        touched.append((pair.layer.bias, idx))
    for p, index in touched:
        for value in optimizer.state.get(p, {}).values():
            if isinstance(value, torch.Tensor) and value.shape == p.shape:
                value[index] = 0
