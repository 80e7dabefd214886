"""What a run measures on the whole training and test sets, in eval mode.

=================  ==========================================================================
train_loss         softmax cross-entropy on the training labels as trained on (noisy ones
                   included), whatever loss the recipe trains with
train_acc          accuracy on the training labels as trained on
test_loss          cross-entropy on the (clean) test labels
test_acc           test accuracy
test_ece           expected calibration error of the test predictions (15 bins)
step_loss          mean training-step loss since the previous evaluation (train mode, the
                   recipe's loss: with dropout, mixing and penalties)
clean_train_acc    accuracy on the training examples whose label is correct   (with noise)
memorized          accuracy on the corrupted examples w.r.t. their wrong labels (with noise)
noisy_true_acc     accuracy on the corrupted examples w.r.t. their true labels (with noise)
shift_acc          accuracy on the shifted test set (fine-tuning tasks: more noise, shifted)
step_ms            mean wall time of a training step in milliseconds (a column, not a curve)
=================  ==========================================================================

Measured once at the end of a run (final values, no curve; ``reglab.bench.final_measures``):
feature_rank, zero_activations, jacobian_norm, noisy_test_acc, zero_rows, zero_weights, sharpness.

Claims may also ask for ``max(m)``, ``min(m)`` or ``steps_to(m >= v)`` of a curve
(see ``reglab.bench.measures``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from reglab.bench.datasets import Split
from reglab.bench.final_measures import FINAL_METRICS
from reglab.metrics.ece import ece

CURVE_METRICS = ("train_loss", "train_acc", "test_loss", "test_acc", "test_ece", "step_loss")
NOISE_METRICS = ("clean_train_acc", "memorized", "noisy_true_acc")
SHIFT_METRICS = ("shift_acc",)  # tasks with a shifted test set (``Split.x_shift``)
METRICS = (*CURVE_METRICS, *NOISE_METRICS, *SHIFT_METRICS, "step_ms", *FINAL_METRICS)


def _logits(model: nn.Module, x: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
    return torch.cat([model(x[i : i + chunk]) for i in range(0, len(x), chunk)])


def evaluate(
    model: nn.Module, split: Split, x_train: torch.Tensor, x_test: torch.Tensor
) -> dict[str, float]:
    """The metrics of the table above (without ``step_loss`` and ``step_ms``)."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            train, test = _logits(model, x_train), _logits(model, x_test)
    finally:
        model.train(was_training)
    train_pred, test_pred = train.argmax(1), test.argmax(1)
    out = {
        "train_loss": F.cross_entropy(train.double(), split.y_train).item(),
        "train_acc": (train_pred == split.y_train).double().mean().item(),
        "test_loss": F.cross_entropy(test.double(), split.y_test).item(),
        "test_acc": (test_pred == split.y_test).double().mean().item(),
        "test_ece": ece(test.double().softmax(1), split.y_test).item()
        if torch.isfinite(test).all()
        else float("nan"),
    }
    if split.x_shift is not None and split.y_shift is not None:
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                shift = _logits(model, split.x_shift.to(x_test.dtype))
        finally:
            model.train(was_training)
        out["shift_acc"] = (shift.argmax(1) == split.y_shift).double().mean().item()
    bad = split.corrupted
    if bad.any():
        good = ~bad
        out["clean_train_acc"] = (
            (train_pred[good] == split.y_train[good]).double().mean().item()
            if good.any()
            else float("nan")
        )
        out["memorized"] = (train_pred[bad] == split.y_train[bad]).double().mean().item()
        out["noisy_true_acc"] = (train_pred[bad] == split.clean_train[bad]).double().mean().item()
    return out
