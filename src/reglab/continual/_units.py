"""Hidden units of a feed-forward ``nn.Sequential``: which layer makes them and which reads them.

A *unit* is an output feature of an ``nn.Linear`` or an output channel of an ``nn.Conv1d/2d/3d``
that another weight layer reads. ``unit_pairs(model)`` walks the (flattened, possibly nested)
``nn.Sequential`` and returns one :class:`UnitPair` per hidden layer: the producing layer, the
consuming layer, and how many input columns of the consumer each unit feeds (1 for Linear ->
Linear and Conv -> Conv, H·W for Conv -> Flatten -> Linear, channel-major as ``nn.Flatten``
lays them out). Between the two only element-wise or channel-preserving modules are accepted
(activations, dropout, pooling, flatten, identity); anything else is refused, because the
bias correction and the utilities assume the consumer sees the units' activations directly.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

_WEIGHT = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
_BETWEEN = (
    nn.Identity, nn.Flatten, nn.modules.dropout._DropoutNd,
    nn.modules.pooling._MaxPoolNd, nn.modules.pooling._AvgPoolNd,
    nn.modules.pooling._AdaptiveAvgPoolNd, nn.modules.pooling._AdaptiveMaxPoolNd,
)


@dataclass(frozen=True)
class UnitPair:
    name: str  # the producing layer's name in the model
    layer: nn.Module  # produces the units (rows of its weight)
    next: nn.Module  # reads them (columns of its weight)
    positions: int  # input columns of ``next`` per unit (H·W when a conv feeds a Linear)

    @property
    def units(self) -> int:
        return int(self.layer.weight.shape[0])

    def unit_view(self, h: torch.Tensor) -> torch.Tensor:
        """The consumer's input ``h`` as (examples·positions, units)."""
        if isinstance(self.next, nn.Linear):
            h = h.reshape(-1, self.units, self.positions)  # (N, units, P)
            return h.transpose(1, 2).reshape(-1, self.units)
        return h.movedim(1, -1).reshape(-1, self.units)

    def outgoing(self) -> torch.Tensor:
        """The consumer's weights as (out, units, k): k columns / kernel entries per unit."""
        w = self.next.weight
        return w.reshape(w.shape[0], self.units, -1)


def _leaves(module: nn.Module, prefix: str) -> list[tuple[str, nn.Module]]:
    if isinstance(module, nn.Sequential):
        out = []
        for name, child in module.named_children():
            out += _leaves(child, f"{prefix}{name}.")
        return out
    return [(prefix[:-1], module)]


def _is_between(m: nn.Module) -> bool:
    activation = type(m).__module__ == "torch.nn.modules.activation" and not isinstance(
        m, nn.MultiheadAttention
    )
    return activation or isinstance(m, _BETWEEN)


def unit_pairs(model: nn.Module, name: str = "model") -> list[UnitPair]:
    """The hidden layers of ``model`` (an ``nn.Sequential``), in order; see the module docstring."""
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"{name} must be an nn.Sequential of Linear / Conv layers, got {type(model).__name__}")
    pairs: list[UnitPair] = []
    previous: tuple[str, nn.Module] | None = None
    for leaf_name, leaf in _leaves(model, ""):
        if isinstance(leaf, _WEIGHT):
            if isinstance(leaf, nn.modules.conv._ConvNd) and leaf.groups != 1:
                raise ValueError(f"{name}: layer {leaf_name!r} has groups={leaf.groups}; only groups=1 is supported")
            if previous is not None:
                pairs.append(_pair(previous, (leaf_name, leaf), name))
            previous = (leaf_name, leaf)
        elif not _is_between(leaf):
            raise ValueError(
                f"{name}: layer {leaf_name!r} ({type(leaf).__name__}) is not an activation, dropout, "
                "pooling or flatten module; units can only be tracked through those"
            )
    if not pairs:
        raise ValueError(f"{name} has no hidden layer (it needs at least two Linear / Conv layers)")
    return pairs


def _pair(prev: tuple[str, nn.Module], nxt: tuple[str, nn.Module], name: str) -> UnitPair:
    (pname, layer), (nname, following) = prev, nxt
    units = layer.weight.shape[0]
    if isinstance(following, nn.Linear):
        fan = following.in_features
        if isinstance(layer, nn.Linear) and fan == units:
            return UnitPair(pname, layer, following, 1)
        if isinstance(layer, nn.modules.conv._ConvNd) and fan % units == 0:
            return UnitPair(pname, layer, following, fan // units)
    elif isinstance(layer, nn.modules.conv._ConvNd) and following.weight.shape[1] == units:
        return UnitPair(pname, layer, following, 1)
    raise ValueError(
        f"{name}: layer {nname!r} ({type(following).__name__}) cannot read the {units} units of "
        f"{pname!r} ({type(layer).__name__}) one to one"
    )
