"""Run metrics against a brute-force computation on a fixed model."""

import torch
import torch.nn.functional as F
from torch import nn

from reglab.bench.datasets import NoiseMode, Split, corrupt_labels
from reglab.bench.evaluation import evaluate


def test_metrics_equal_direct_computation_including_noise_metrics():
    g = torch.Generator().manual_seed(0)
    x, xt = torch.randn(40, 3, generator=g), torch.randn(20, 3, generator=g)
    model = nn.Linear(3, 4)
    with torch.no_grad():
        clean = model(x).argmax(1)  # the model is right on every clean label
    split = Split(x, clean, xt, torch.randint(0, 4, (20,), generator=g), clean, num_classes=4)
    split = corrupt_labels(split, 0.25, NoiseMode.FLIP, g)
    out = evaluate(model, split, x, xt)
    with torch.no_grad():
        logits, test_logits = model(x), model(xt)
    assert out["train_acc"] == (logits.argmax(1) == split.y_train).double().mean().item() == 0.75
    assert out["memorized"] == 0.0 and out["noisy_true_acc"] == 1.0 and out["clean_train_acc"] == 1.0
    assert abs(out["train_loss"] - F.cross_entropy(logits.double(), split.y_train).item()) < 1e-12
    assert out["test_acc"] == (test_logits.argmax(1) == split.y_test).double().mean().item()
    assert model.training  # evaluation restores the mode it found
