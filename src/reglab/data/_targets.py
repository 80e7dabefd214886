"""Private helpers shared by the batch transforms and the losses: label checks and soft targets.

Targets come in two forms: integer class labels of shape (N,) (or (...) under a loss), and soft
targets of shape (N, K) (or (..., K)) whose rows are probability vectors. These helpers check
them and turn labels into one-hot rows, with errors that name the argument and the bad value.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def is_label_tensor(t: torch.Tensor) -> bool:
    """True for integer class labels (not bool, not floating point, not complex)."""
    return not (t.is_floating_point() or t.is_complex() or t.dtype is torch.bool)


def check_labels(name: str, labels: torch.Tensor, num_classes: int) -> None:
    """Raise unless ``labels`` holds integers in [0, num_classes)."""
    if not isinstance(labels, torch.Tensor) or not is_label_tensor(labels):
        kind = labels.dtype if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise TypeError(f"{name} must be a tensor of integer class labels, got {kind}")
    if labels.numel() == 0:
        return
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= num_classes:
        raise ValueError(
            f"{name} must hold class labels in [0, {num_classes}) (num_classes={num_classes}), "
            f"got values from {low} to {high}"
        )


def check_same_batch(
    x: torch.Tensor, y: torch.Tensor, x_name: str = "x", y_name: str = "y"
) -> None:
    """Raise unless ``x`` and ``y`` have the same (non-empty) leading batch dimension."""
    if x.dim() == 0 or y.dim() == 0 or x.shape[0] != y.shape[0]:
        raise ValueError(
            f"{x_name} and {y_name} must have the same batch size, got {x_name} of shape "
            f"{tuple(x.shape)} and {y_name} of shape {tuple(y.shape)}"
        )


def soft_targets(
    y: torch.Tensor, num_classes: int | None, dtype: torch.dtype, owner: str
) -> torch.Tensor:
    """``y`` as (N, K) soft targets in ``dtype``: labels become one-hot rows, soft rows are kept.

    ``owner`` names the class in the error raised when integer labels come without ``num_classes``.
    """
    if not isinstance(y, torch.Tensor):
        raise TypeError(
            f"y must be a tensor of class labels or soft targets, got {type(y).__name__}"
        )
    if y.is_floating_point():
        if y.dim() != 2 or (num_classes is not None and y.shape[1] != num_classes):
            expected = f"(N, {num_classes})" if num_classes is not None else "(N, K)"
            raise ValueError(f"soft targets y must have shape {expected}, got {tuple(y.shape)}")
        return y.to(dtype)
    if num_classes is None:
        raise ValueError(
            f"integer targets y need num_classes: build {owner}(..., num_classes=K), "
            "or pass soft targets of shape (N, K)"
        )
    if y.dim() != 1:
        raise ValueError(f"integer targets y must have shape (N,), got {tuple(y.shape)}")
    check_labels("y", y, num_classes)
    return F.one_hot(y, num_classes).to(dtype)


def target_dtype(x: torch.Tensor) -> torch.dtype:
    """The dtype of soft targets for inputs ``x``: x's own when floating, else the default."""
    return x.dtype if x.is_floating_point() else torch.get_default_dtype()
