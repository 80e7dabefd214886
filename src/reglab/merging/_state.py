"""Private helpers of weight-space methods: check that state dicts line up, average them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

StateDict = Mapping[str, torch.Tensor]


def check_state_dicts(name: str, state_dicts: object, *, at_least: int = 1) -> list[StateDict]:
    """``state_dicts`` as a list, refused (naming the key) unless all share keys and shapes."""
    if isinstance(state_dicts, Mapping) or not isinstance(state_dicts, Sequence):
        raise TypeError(f"{name} must be a sequence of state dicts, got {type(state_dicts).__name__}")
    dicts = list(state_dicts)
    if len(dicts) < at_least:
        raise ValueError(f"{name} must hold at least {at_least} state dict(s), got {len(dicts)}")
    for i, sd in enumerate(dicts):
        if not isinstance(sd, Mapping):
            raise TypeError(f"{name}[{i}] must be a state dict (a mapping), got {type(sd).__name__}")
    check_same_layout(name, dicts)
    return dicts


def check_same_layout(name: str, dicts: Sequence[StateDict]) -> None:
    """Every dict in ``dicts`` has the keys, shapes and dtypes of ``dicts[0]``; else name the key."""
    first = dicts[0]
    for i, sd in enumerate(dicts[1:], start=1):
        missing = [k for k in first if k not in sd]
        extra = [k for k in sd if k not in first]
        if missing or extra:
            key = (missing or extra)[0]
            where = f"{name}[0] but not {name}[{i}]" if missing else f"{name}[{i}] but not {name}[0]"
            raise ValueError(f"{name}: key {key!r} is in {where}; all state dicts need the same keys")
        for k, v in sd.items():
            ref = first[k]
            if not isinstance(v, torch.Tensor):
                raise TypeError(f"{name}[{i}][{k!r}] must be a tensor, got {type(v).__name__}")
            if v.shape != ref.shape:
                raise ValueError(
                    f"{name}: key {k!r} has shape {tuple(v.shape)} in {name}[{i}] but "
                    f"{tuple(ref.shape)} in {name}[0]; all state dicts need the same shapes"
                )
            if v.dtype != ref.dtype:
                raise ValueError(
                    f"{name}: key {k!r} has dtype {v.dtype} in {name}[{i}] but {ref.dtype} in {name}[0]"
                )


def averaged(total: Mapping[str, torch.Tensor], count: int, first: StateDict) -> dict[str, torch.Tensor]:
    """``total / count`` for floating entries; non-floating entries (counters) come from ``first``."""
    return {
        k: (v / count if v.is_floating_point() else first[k].clone()) for k, v in total.items()
    }


def summed(dicts: Sequence[StateDict]) -> dict[str, torch.Tensor]:
    """Entry-wise sum of the floating entries (others copied from ``dicts[0]``), one pass a dict."""
    total = {k: v.detach().clone() for k, v in dicts[0].items()}
    for sd in dicts[1:]:
        for k, v in total.items():
            if v.is_floating_point():
                v.add_(sd[k].detach())
    return total
