"""Fresh initializations drawn from a passed generator: PyTorch's default ``reset_parameters``.

``fresh_like(module, name, generator)`` returns a new tensor for the parameter ``name`` of
``module`` (its own parameter, not a child's), distributed as the module's default
initialization: Linear / Conv weights U(±1/√fan_in) (``kaiming_uniform_(a=√5)``) and biases
U(±1/√fan_in); normalization layers' weights 1 and biases 0; embeddings N(0, 1). Other modules
are refused by ``check_known``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from reglab._core.selection import _EMBEDDING, _NORMALIZATION

_FAN_IN = (nn.Linear, nn.modules.conv._ConvNd)
KNOWN = _FAN_IN + _NORMALIZATION + _EMBEDDING


def check_known(model: nn.Module, name: str = "params") -> None:
    """Raise naming the first module that owns parameters we cannot re-initialize."""
    for mod_name, module in model.named_modules():
        if any(True for _ in module.parameters(recurse=False)) and not isinstance(module, KNOWN):
            raise ValueError(
                f"{name}: module {mod_name!r} ({type(module).__name__}) has parameters without a known "
                "default initialization; fresh-initialization noise supports Linear, Conv, "
                "normalization and embedding layers"
            )


def fresh_like(module: nn.Module, name: str, generator: torch.Generator) -> torch.Tensor:
    """A fresh draw of ``module``'s parameter ``name`` from its default initialization."""
    p = getattr(module, name)
    out = torch.empty(p.shape, dtype=p.dtype, device=generator.device)
    if isinstance(module, _FAN_IN):
        fan_in = module.weight[0].numel()
        bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        out.uniform_(-bound, bound, generator=generator)
    elif isinstance(module, _EMBEDDING):
        out.normal_(0.0, 1.0, generator=generator)
    else:  # normalization layers
        out.fill_(1.0 if name == "weight" else 0.0)
    return out.to(p.device)
