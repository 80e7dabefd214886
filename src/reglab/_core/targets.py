"""Target checks shared by the batch transforms, the losses and the metrics.

Targets come in two forms: integer class labels of shape (N,) (or (...) under a loss), and soft
targets of shape (N, K) (or (..., K)) whose rows are probability vectors. These helpers check
them and turn labels into one-hot rows, with errors that name the argument and the bad value.

A row is a probability vector when it has no NaN, no negative entry, and sums to 1 within
:data:`SUM_TOLERANCE` for its dtype: 3e-2 for bfloat16 and 4e-3 for float16 (about four units in
the last place, so a row rounded to the dtype after a few operations passes), 1e-5 for float32
(room for softmax over a large vocabulary) and 1e-6 for float64 (so float32 targets cast to
float64 still pass: the check looks for unnormalized rows, such as logits or counts, not for
rounding). Half-precision rows are summed in float32.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

SUM_TOLERANCE: dict[torch.dtype, float] = {
    torch.bfloat16: 3e-2,
    torch.float16: 4e-3,
    torch.float32: 1e-5,
    torch.float64: 1e-6,
}
_DEFAULT_TOLERANCE = 1e-5  # other floating dtypes (e.g. float8 after a cast) are summed in float32


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


def check_distributions(name: str, rows: torch.Tensor, hint: str = "") -> None:
    """Raise unless every row of ``rows`` (..., K) is a probability vector.

    One vectorized pass and one device sync: the bad row is only looked for when there is one.
    ``hint`` is appended to the message (e.g. "pass softmax(logits)").

    >>> check_distributions("targets", torch.tensor([[0.5, 0.5], [2.0, -1.0]]))
    Traceback (most recent call last):
    ...
    ValueError: targets must hold probability vectors along the last dimension (no NaN, entries >= 0, each row summing to 1 within 1e-05 for torch.float32), got row 1 = [2, -1] (sum 1, min -1)
    """
    if rows.numel() == 0:
        return
    t = rows.detach()
    tol = SUM_TOLERANCE.get(t.dtype, _DEFAULT_TOLERANCE)
    acc = t.dtype if t.dtype in (torch.float32, torch.float64) else torch.float32
    sums = t.sum(dim=-1, dtype=acc)
    ok = ((sums - 1).abs() <= tol) & (t.amin(dim=-1) >= 0)  # NaN fails both comparisons
    if bool(ok.all()):
        return
    first = int((~ok.reshape(-1)).nonzero()[0])
    index = [int(i) for i in torch.unravel_index(torch.tensor(first), ok.shape)]
    row = t[tuple(index)] if index else t
    values = ", ".join(f"{v:.4g}" for v in row[:8].tolist()) + (", ..." if row.numel() > 8 else "")
    where = f"row {', '.join(map(str, index))} = " if index else ""
    raise ValueError(
        f"{name} must hold probability vectors along the last dimension (no NaN, entries >= 0, "
        f"each row summing to 1 within {tol:g} for {t.dtype}), got {where}[{values}] "
        f"(sum {float(sums.reshape(-1)[first]):.6g}, min {float(row.min()):.6g}){hint}"
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

    Soft rows must be probability vectors (see :func:`check_distributions`). ``owner`` names the
    class in the error raised when integer labels come without ``num_classes``.
    """
    if not isinstance(y, torch.Tensor):
        raise TypeError(
            f"y must be a tensor of class labels or soft targets, got {type(y).__name__}"
        )
    if y.is_floating_point():
        if y.dim() != 2 or (num_classes is not None and y.shape[1] != num_classes):
            expected = f"(N, {num_classes})" if num_classes is not None else "(N, K)"
            raise ValueError(f"soft targets y must have shape {expected}, got {tuple(y.shape)}")
        check_distributions("soft targets y", y)
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
