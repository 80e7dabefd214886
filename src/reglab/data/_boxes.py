"""Private box geometry shared by CutMix and Cutout: boxes clipped to the image, and their masks.

A box over the spatial dimensions (L,) or (H, W) of a channels-first batch is a pair of integer
tensors ``start`` and ``end`` of shape (..., d), d = number of spatial dimensions; it covers the
half-open ranges [start_k, end_k) in every dimension k. Building masks by broadcasting comparisons
against ``arange`` keeps everything vectorized over the batch.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import torch


def spatial_shape(x: torch.Tensor, owner: str) -> tuple[int, ...]:
    """The spatial dimensions of a channels-first batch (N, C, *spatial), at least one."""
    if x.dim() < 3:
        raise ValueError(
            f"{owner} needs channels-first inputs x of shape (N, C, L) or (N, C, H, W), "
            f"got {tuple(x.shape)}"
        )
    return tuple(x.shape[2:])


def clipped_boxes(
    center: torch.Tensor, side: torch.Tensor, spatial: Sequence[int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Boxes of side ``side`` around ``center`` (both (..., d), int64), clipped to ``spatial``.

    The box covers [c − ⌊s/2⌋, c − ⌊s/2⌋ + s) in each dimension before clipping to [0, size).
    """
    bounds = torch.tensor(list(spatial), dtype=torch.long, device=center.device)
    start = center - torch.div(side, 2, rounding_mode="floor")
    end = start + side
    zero = torch.zeros((), dtype=torch.long, device=center.device)
    start = torch.minimum(torch.maximum(start, zero), bounds)
    end = torch.minimum(torch.maximum(end, zero), bounds)
    return start, end


def box_area(start: torch.Tensor, end: torch.Tensor) -> torch.Tensor:
    """Number of pixels inside each box: Π_k (end_k − start_k), shape (...)."""
    return (end - start).clamp(min=0).prod(dim=-1)


def box_mask(start: torch.Tensor, end: torch.Tensor, spatial: Sequence[int]) -> torch.Tensor:
    """Boolean mask of shape (..., *spatial), True inside each box."""
    d = len(spatial)
    masks = []
    for k, size in enumerate(spatial):
        coords = torch.arange(size, device=start.device)
        inside = (coords >= start[..., k, None]) & (coords < end[..., k, None])  # (..., size)
        shape = list(inside.shape[:-1]) + [1] * d
        shape[inside.dim() - 1 + k] = size
        masks.append(inside.reshape(shape))
    return functools.reduce(torch.logical_and, masks)
