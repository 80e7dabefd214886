"""A user's own data for any task: a ``.npz`` or ``.pt`` file holding arrays ``x`` and ``y``.

Optional ``x_test`` and ``y_test`` give the test set; without them a seeded random fraction of
the examples is held out. ``y`` holds integer class labels; ``x`` holds real-valued inputs of
any shape per example, or integer token ids (then one-hot encoded by the MLP). Every error
names the file and what is wrong with it.

>>> import numpy as np, tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "mine.npz"
>>> np.savez(path, x=np.random.default_rng(0).normal(size=(50, 3)), y=np.arange(50) % 2)
>>> split = load_user_data(path, test_fraction=0.2, seed=0)
>>> split.x_train.shape, split.x_test.shape, split.num_classes
(torch.Size([40, 3]), torch.Size([10, 3]), 2)
"""

from __future__ import annotations

import hashlib
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from reglab.bench.datasets import Split, random_split

SUFFIXES = (".npz", ".pt")


def file_digest(path: Path) -> str:
    """sha256 of the file's bytes (part of a run's key, so a changed file is a new run)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise FileNotFoundError(f"data file {path} does not exist")
    if path.suffix not in SUFFIXES:
        raise ValueError(f"data file {path}: unsupported suffix {path.suffix!r}; use .npz or .pt")
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as data:
                return {k: data[k] for k in data.files}
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except (
        OSError,
        ValueError,
        EOFError,
        zipfile.BadZipFile,
        RuntimeError,
        pickle.UnpicklingError,
    ) as e:
        raise ValueError(
            f"data file {path}: cannot be read as {path.suffix} ({str(e).splitlines()[0] if str(e) else type(e).__name__})"
        ) from None
    if not isinstance(loaded, dict):
        raise ValueError(
            f"data file {path}: expected a dict of tensors with keys 'x' and 'y', got {type(loaded).__name__}"
        )
    return loaded


def _tensor(path: Path, name: str, value: Any) -> torch.Tensor:
    try:
        t = torch.as_tensor(np.asarray(value) if not isinstance(value, torch.Tensor) else value)
    except (TypeError, ValueError, RuntimeError) as e:
        raise ValueError(f"data file {path}: array {name!r} is not numeric ({e})") from None
    if t.is_complex() or t.dtype == torch.bool or t.ndim == 0:
        raise ValueError(
            f"data file {path}: array {name!r} must be a real or integer array with a batch axis, got {t.dtype} of shape {tuple(t.shape)}"
        )
    return t


def _labels(path: Path, name: str, y: torch.Tensor, n: int) -> torch.Tensor:
    if y.is_floating_point():
        if not torch.equal(y, y.round()):
            raise ValueError(
                f"data file {path}: {name!r} must hold integer class labels, found non-integer values"
            )
        y = y.long()
    if y.ndim != 1 or len(y) != n:
        raise ValueError(
            f"data file {path}: {name!r} must have shape ({n},) to match its inputs, got {tuple(y.shape)}"
        )
    if n and int(y.min()) < 0:
        raise ValueError(f"data file {path}: {name!r} has negative class labels")
    return y.long()


def load_user_data(path: Path | str, test_fraction: float, seed: int) -> Split:
    """Read ``path`` (.npz or .pt) into a ``Split``; see the module docstring."""
    path = Path(path)
    arrays = _read(path)
    missing = [k for k in ("x", "y") if k not in arrays]
    if missing:
        raise ValueError(f"data file {path}: missing array {missing[0]!r} (found {sorted(arrays)})")
    if ("x_test" in arrays) != ("y_test" in arrays):
        raise ValueError(f"data file {path}: give both 'x_test' and 'y_test' or neither")
    x = _tensor(path, "x", arrays["x"])
    y = _labels(path, "y", _tensor(path, "y", arrays["y"]), len(x))
    if len(x) < 2:
        raise ValueError(f"data file {path}: needs at least 2 examples, got {len(x)}")
    tokens = not x.is_floating_point()
    x = x.long() if tokens else x.float()
    if "x_test" in arrays:
        x_test = _tensor(path, "x_test", arrays["x_test"])
        y_test = _labels(path, "y_test", _tensor(path, "y_test", arrays["y_test"]), len(x_test))
        if x_test.shape[1:] != x.shape[1:]:
            raise ValueError(
                f"data file {path}: 'x_test' examples have shape {tuple(x_test.shape[1:])}, 'x' has {tuple(x.shape[1:])}"
            )
        x_test = x_test.long() if tokens else x_test.float()
        k = int(torch.cat([y, y_test]).max()) + 1
        vocab = int(torch.cat([x, x_test]).max()) + 1 if tokens else None
        return Split(x, y, x_test, y_test, y, max(k, 2), vocab)
    train = len(y) - max(1, round(test_fraction * len(y)))
    vocab = int(x.max()) + 1 if tokens else None
    return random_split(
        x, y, max(train, 1), seed, num_classes=max(int(y.max()) + 1, 2), vocab=vocab
    )
