"""Private helpers of the losses: target and index checks, reductions, cross-entropy.

Losses take ``logits`` of shape (..., K) (classes last) and ``targets`` that are either integer
class labels of shape (...) or soft targets of shape (..., K) whose rows are probability
vectors (checked: a row with NaN, a negative entry or a sum away from 1 is refused).
"""

from __future__ import annotations

from enum import Enum

import torch

from reglab._core.validation import check_choice
from reglab._core.targets import check_distributions, check_labels, is_label_tensor


class Reduction(Enum):
    """How per-example losses become the returned value (as in ``nn.CrossEntropyLoss``)."""

    MEAN = "mean"
    SUM = "sum"
    NONE = "none"


def reduce(losses: torch.Tensor, reduction: Reduction | str) -> torch.Tensor:
    mode = check_choice("reduction", reduction, Reduction)
    if mode is Reduction.MEAN:
        return losses.mean()
    if mode is Reduction.SUM:
        return losses.sum()
    return losses


def check_logits(logits: torch.Tensor, num_classes: int | None = None) -> None:
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point() or logits.dim() < 1:
        got = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise TypeError(f"logits must be a floating-point tensor of shape (..., K), got {got}")
    if num_classes is not None and (logits.dim() != 2 or logits.shape[1] != num_classes):
        raise ValueError(
            f"logits must have shape (N, {num_classes}) (num_classes={num_classes}), "
            f"got {tuple(logits.shape)}"
        )


def check_targets(logits: torch.Tensor, targets: torch.Tensor) -> bool:
    """Check ``targets`` against ``logits``; True for integer labels, False for soft targets.

    Soft targets must be probability vectors along the last dimension (no NaN, no negative
    entry, rows summing to 1 within the dtype's tolerance; see ``reglab._core.targets``).
    """
    if not isinstance(targets, torch.Tensor):
        raise TypeError(f"targets must be a tensor, got {type(targets).__name__}")
    if is_label_tensor(targets):
        if targets.shape != logits.shape[:-1]:
            raise ValueError(
                f"integer targets must have shape {tuple(logits.shape[:-1])} to match logits of "
                f"shape {tuple(logits.shape)}, got {tuple(targets.shape)}"
            )
        check_labels("targets", targets, logits.shape[-1])
        return True
    if targets.shape != logits.shape:
        raise ValueError(
            f"soft targets must have the logits' shape {tuple(logits.shape)}, "
            f"got {tuple(targets.shape)}"
        )
    check_distributions("soft targets", targets)
    return False


def check_hard_targets(owner: str, logits: torch.Tensor, targets: torch.Tensor) -> None:
    """Raise unless ``targets`` are integer labels (N,) for logits (N, K)."""
    if not isinstance(targets, torch.Tensor) or not is_label_tensor(targets):
        raise TypeError(
            f"{owner} needs integer class labels as targets, got "
            f"{targets.dtype if isinstance(targets, torch.Tensor) else type(targets).__name__}; "
            "transforms that return soft targets (Mixup, CutMix, label smoothing, Cutout with "
            "num_classes) cannot precede it"
        )
    check_targets(logits, targets)


def check_index(index: torch.Tensor | None, num_examples: int, batch_size: int) -> torch.Tensor:
    """Raise unless ``index`` holds one position in [0, num_examples) per example of the batch."""
    if index is None:
        raise ValueError(
            "index (the batch's positions in the training set) is required in training mode"
        )
    if not isinstance(index, torch.Tensor) or not is_label_tensor(index):
        raise TypeError(
            f"index must be an integer tensor, got {getattr(index, 'dtype', type(index).__name__)}"
        )
    if index.shape != (batch_size,):
        raise ValueError(
            f"index must have shape ({batch_size},), one position per example, "
            f"got {tuple(index.shape)}"
        )
    if batch_size and (int(index.min()) < 0 or int(index.max()) >= num_examples):
        raise ValueError(
            f"index must lie in [0, {num_examples}) (num_examples={num_examples}), "
            f"got values from {int(index.min())} to {int(index.max())}"
        )
    return index


def cross_entropy_from_log_probs(
    log_probs: torch.Tensor, targets: torch.Tensor, hard: bool
) -> torch.Tensor:
    """Per-example −log p[y] (integer targets) or −Σ_k t_k log p_k (soft targets), shape (...)."""
    if hard:
        return -log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return -(targets.to(log_probs.dtype) * log_probs).sum(dim=-1)
