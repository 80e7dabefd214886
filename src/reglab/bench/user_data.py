"""A user's own data for any task: a ``.npz`` or ``.pt`` file holding arrays ``x`` and ``y``.

Optional ``x_test`` and ``y_test`` give the test set; without them a seeded random fraction of
the examples is held out. ``y`` holds integer class labels; ``x`` holds real-valued inputs of
any shape per example, or integer token ids (then one-hot encoded by the MLP). Every error
names the file and what is wrong with it: a corrupt file, a missing array, a NaN or infinite
value (with the index of the first), labels that are not integers 0..K-1 (a label far above
the others would make that many classes: refused above 100 classes, warned below).

>>> import numpy as np, tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "mine.npz"
>>> np.savez(path, x=np.random.default_rng(0).normal(size=(50, 3)), y=np.arange(50) % 2)
>>> split = load_user_data(path, test_fraction=0.2, seed=0)
>>> split.x_train.shape, split.x_test.shape, split.num_classes
(torch.Size([40, 3]), torch.Size([10, 3]), 2)
"""

from __future__ import annotations

import hashlib
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from reglab.bench.datasets import Split, random_split

SUFFIXES = (".npz", ".pt")
SPARSE_LIMIT = 100  # more classes than this, most of them without a label: refused


def file_digest(path: Path) -> str:
    """sha256 of the file's bytes (part of a run's key, so a changed file is a new run)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _why(e: BaseException) -> str:
    first = str(e).splitlines()[0] if str(e) else ""
    first = first if len(first) <= 160 else first[:157] + "..."
    return f"{type(e).__name__}: {first}" if first else type(e).__name__


def _read(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise FileNotFoundError(f"data file {path} does not exist")
    if path.suffix not in SUFFIXES:
        raise ValueError(f"data file {path}: unsupported suffix {path.suffix!r}; use .npz or .pt")
    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as data:
                return {k: data[k] for k in data.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as e:
            raise ValueError(
                f"data file {path}: cannot be read as .npz, the file is corrupt or not made by "
                f"numpy.savez ({_why(e)})"
            ) from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the unpickler warns about protocols before failing
            loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001  (corrupt bytes raise anything: KeyError, struct.error, ...)
        raise ValueError(
            f"data file {path}: cannot be read as .pt, the file is corrupt or not made by "
            f"torch.save({{'x': tensor, 'y': tensor}}) ({_why(e)})"
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
    if t.is_floating_point():
        bad = ~torch.isfinite(t)
        if bad.any():
            where = tuple(int(i) for i in bad.nonzero()[0])
            raise ValueError(
                f"data file {path}: array {name!r} has {int(bad.sum())} NaN or infinite "
                f"value(s), the first {float(t[where])} at index {where}; remove or fill them"
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
        k = _num_classes(path, torch.cat([y, y_test]))
        vocab = int(torch.cat([x, x_test]).max()) + 1 if tokens else None
        return Split(x, y, x_test, y_test, y, k, vocab)
    train = len(y) - max(1, round(test_fraction * len(y)))
    vocab = int(x.max()) + 1 if tokens else None
    return random_split(x, y, max(train, 1), seed, num_classes=_num_classes(path, y), vocab=vocab)


def _num_classes(path: Path, labels: torch.Tensor) -> int:
    """max label + 1 (at least 2); labels that leave most classes empty are refused or warned.

    The model has one output per class, so a single label far above the others (100000 among
    0..9) would build 100001 outputs: refused above ``SPARSE_LIMIT`` classes, warned below.
    """
    k = max(int(labels.max()) + 1, 2)
    used = len(torch.unique(labels))
    if k <= 2 * used:
        return k
    text = (
        f"data file {path}: the labels use {used} distinct values but reach {k - 1}, which "
        f"makes {k} classes (one model output each); number the classes 0..{used - 1}, e.g. "
        f"with numpy.unique(y, return_inverse=True)"
    )
    if k > SPARSE_LIMIT:
        raise ValueError(text)
    warnings.warn(text, UserWarning, stacklevel=3)
    return k
