"""The small models of the benchmark tasks, built from a ``ModelSpec`` and the data's shape.

The MLP and the CNN are ``nn.Sequential(features, classifier)``: for the MLP the classifier is
the last ``nn.Linear`` (the head) and the features are everything before it; for the CNN the
classifier is the fully connected part (hidden linear layers and the head) after the
convolutions. Surgery can name either (``head: classifier`` in a recipe); the last ``nn.Linear``
of every model is its head. The features entering the head pass through an ``nn.Identity``
named ``penultimate`` (``features.penultimate`` in the MLP, ``classifier.penultimate`` in the
CNN), so activity penalties can name them (``modules: [features.penultimate]``).
``norm: batch`` puts a batch norm after every convolution and hidden linear layer, before its
ReLU (``norm: none`` by default). Integer inputs (token ids, e.g. the pairs (a, b) of modular addition)
are one-hot encoded by the MLP's first layer, which equals feeding concatenated one-hot vectors.
The transformer and the LSTM (token windows in, next-token logits out) are one module each with a
``head``.

>>> spec = ModelSpec(arch=Arch.MLP, width=16, depth=2, dropout=0.1)
>>> build_model(spec, input_shape=(1, 8, 8), num_classes=10)
Sequential(
  (features): Sequential(
    (0): Flatten(start_dim=1, end_dim=-1)
    (1): Linear(in_features=64, out_features=16, bias=True)
    (2): ReLU()
    (3): Dropout(p=0.1, inplace=False)
    (4): Linear(in_features=16, out_features=16, bias=True)
    (5): ReLU()
    (6): Dropout(p=0.1, inplace=False)
    (penultimate): Identity()
  )
  (classifier): Linear(in_features=16, out_features=10, bias=True)
)
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

import torch
from torch import nn

from reglab._core.validation import check_choice, check_int, check_number


class Arch(StrEnum):
    """Model families: an MLP, a small CNN (1-D or 2-D from the input shape), a 1-layer
    transformer, a stacked LSTM language model on token windows."""

    MLP = "mlp"
    CNN = "cnn"
    TRANSFORMER = "transformer"
    LSTM = "lstm"


class Norm(StrEnum):
    """Normalization after each convolution and hidden linear layer: none, or batch norm."""

    NONE = "none"
    BATCH = "batch"


class DType(StrEnum):
    """The parameters' dtype."""

    FLOAT32 = "float32"
    FLOAT64 = "float64"


@dataclass(frozen=True)
class ModelSpec:
    """arch; width (hidden units of the linear layers, d_model of the transformer, embedding and
    units of the LSTM) >= 1; depth (hidden linear layers, LSTM layers) >= 1; channels of the
    CNN's first conv (the second has twice as many); dropout in [0, 1) after each hidden
    activation (dropout layers exist only when > 0; the LSTM's between its layers); bias of the
    linear layers; dtype of the parameters; norm after each conv / hidden linear layer."""

    arch: Arch = Arch.MLP
    width: int = 200
    depth: int = 2
    channels: int = 32
    dropout: float = 0.0
    bias: bool = True
    dtype: DType = DType.FLOAT32
    norm: Norm = Norm.NONE

    def __post_init__(self) -> None:
        object.__setattr__(self, "arch", check_choice("model.arch", self.arch, Arch))
        object.__setattr__(self, "norm", check_choice("model.norm", self.norm, Norm))
        object.__setattr__(self, "dtype", check_choice("model.dtype", self.dtype, DType))
        check_int("model.width", self.width, low=1)
        check_int("model.depth", self.depth, low=1)
        check_int("model.channels", self.channels, low=1)
        if not isinstance(self.bias, bool):
            raise TypeError(f"model.bias must be true or false, got {self.bias!r}")
        check_number("model.dropout", self.dropout, low=0, high=1, high_open=True)

    def as_dict(self) -> dict[str, Any]:
        return {k: (v.value if isinstance(v, StrEnum) else v) for k, v in asdict(self).items()}

    @property
    def torch_dtype(self) -> torch.dtype:
        return torch.float64 if self.dtype is DType.FLOAT64 else torch.float32


class OneHotLinear(nn.Module):
    """A linear layer on concatenated one-hot vectors of integer ids (N, T), computed by lookup.

    Equal to ``nn.Linear(T * vocab, out)`` applied to ``one_hot(x).flatten(1)`` (same parameter
    shapes and initialization), without forming the one-hot matrix.
    """

    def __init__(self, vocab: int, tokens: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        reference = nn.Linear(tokens * vocab, out_features, bias=bias)  # its initialization
        self.weight = nn.Parameter(reference.weight.detach().clone())
        self.bias = nn.Parameter(reference.bias.detach().clone()) if bias else None
        self.vocab, self.tokens = vocab, tokens

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        offsets = torch.arange(self.tokens, device=x.device) * self.vocab
        out = self.weight.t()[x + offsets].sum(1)
        return out + self.bias if self.bias is not None else out

    def extra_repr(self) -> str:
        return f"vocab={self.vocab}, tokens={self.tokens}, out_features={self.weight.shape[0]}, bias={self.bias is not None}"


def _activation(spec: ModelSpec) -> list[nn.Module]:
    return [nn.ReLU(), nn.Dropout(spec.dropout)] if spec.dropout > 0 else [nn.ReLU()]


def _norm(spec: ModelSpec, dims: int, channels: int) -> list[nn.Module]:
    """A batch norm over ``channels`` (1-D: BatchNorm1d, 2-D: BatchNorm2d) when ``norm: batch``."""
    if spec.norm is Norm.NONE:
        return []
    return [nn.BatchNorm1d(channels) if dims == 1 else nn.BatchNorm2d(channels)]


def _hidden(width_in: int, spec: ModelSpec, count: int) -> list[nn.Module]:
    """``count`` blocks Linear -> ReLU (-> Dropout)."""
    layers: list[nn.Module] = []
    for _ in range(count):
        layers += [nn.Linear(width_in, spec.width, bias=spec.bias), *_norm(spec, 1, spec.width)]
        layers += _activation(spec)
        width_in = spec.width
    return layers


def _two_parts(features: list[nn.Module], classifier: nn.Module) -> nn.Sequential:
    return nn.Sequential(OrderedDict(features=nn.Sequential(*features), classifier=classifier))


def _penultimate(block: nn.Sequential) -> nn.Sequential:
    """``block`` with an ``nn.Identity`` named ``penultimate`` appended (no parameters)."""
    block.add_module("penultimate", nn.Identity())
    return block


def _mlp(
    spec: ModelSpec, input_shape: tuple[int, ...], num_classes: int, vocab: int | None
) -> nn.Sequential:
    if vocab is not None:  # the first hidden layer reads the one-hot ids directly
        if len(input_shape) != 1:
            raise ValueError(
                f"integer inputs must be shaped (N, T), got examples of shape {input_shape}"
            )
        first = OneHotLinear(vocab, input_shape[0], spec.width, bias=spec.bias)
        layers = [first, *_activation(spec), *_hidden(spec.width, spec, spec.depth - 1)]
    else:
        layers = [nn.Flatten(), *_hidden(math.prod(input_shape), spec, spec.depth)]
    model = _two_parts(
        layers, nn.Linear(spec.width, num_classes, bias=spec.bias)
    )  # built last: init order
    _penultimate(model.features)
    return model


def _cnn(spec: ModelSpec, input_shape: tuple[int, ...], num_classes: int) -> nn.Sequential:
    """conv 3 -> ReLU -> conv 3 -> ReLU -> max-pool 2, then ``depth`` hidden linear layers and the head."""
    add_channel = len(input_shape) == 1  # a 1-D signal given without its channel axis
    if add_channel:
        input_shape = (1, *input_shape)
    if len(input_shape) not in (2, 3):
        raise ValueError(
            f"model.arch 'cnn' needs inputs shaped (C, L) or (C, H, W) per example, got {input_shape}"
        )
    conv, pool = (nn.Conv1d, nn.MaxPool1d) if len(input_shape) == 2 else (nn.Conv2d, nn.MaxPool2d)
    c = spec.channels
    dims = len(input_shape) - 1
    blocks: list[nn.Module] = [
        conv(input_shape[0], c, 3, padding=1),
        *_norm(spec, dims, c),
        nn.ReLU(),
        conv(c, 2 * c, 3, padding=1),
        *_norm(spec, dims, 2 * c),
        nn.ReLU(),
        pool(2, ceil_mode=True),
    ]
    features = 2 * c * math.prod(math.ceil(s / 2) for s in input_shape[1:])
    front: list[nn.Module] = [Unsqueeze()] if add_channel else []
    classifier = _penultimate(nn.Sequential(*_hidden(features, spec, spec.depth)))
    # the head keeps its positional name (classifier.<2·depth>), after the penultimate identity
    classifier.add_module(str(len(classifier) - 1), nn.Linear(spec.width, num_classes, bias=spec.bias))
    return _two_parts([*front, *blocks, nn.Flatten()], classifier)


class Unsqueeze(nn.Module):
    """Add the channel axis to 1-D signals given as (N, L)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unsqueeze(1)


class TokenTransformer(nn.Module):
    """A 1-layer pre-norm transformer on integer tokens (N, T) plus an '=' token; reads the last."""

    def __init__(self, vocab: int, tokens: int, spec: ModelSpec, num_classes: int) -> None:
        super().__init__()
        d = spec.width
        heads = 4 if d % 4 == 0 else 1
        self.embed = nn.Embedding(vocab + 1, d)  # id ``vocab`` is the '=' token
        self.position = nn.Parameter(torch.randn(tokens + 1, d) * 0.02)
        self.block = nn.TransformerEncoderLayer(
            d, heads, dim_feedforward=4 * d, dropout=spec.dropout, batch_first=True, norm_first=True
        )
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, num_classes)
        self.vocab = vocab

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        eq = torch.full((x.shape[0], 1), self.vocab, dtype=x.dtype, device=x.device)
        h = self.embed(torch.cat([x, eq], dim=1)) + self.position
        return self.head(self.norm(self.block(h))[:, -1])


class TokenLSTM(nn.Module):
    """Embedding (width) -> ``nn.LSTM`` (width units, depth layers) -> head on the last step.

    A language model read as a classifier: a window of T token ids (N, T) in, the logits of the
    next token out. ``model.dropout`` is ``nn.LSTM``'s own dropout between layers;
    ``rnn-dropout`` (Zaremba et al.) replaces it by dropout on every non-recurrent connection.
    """

    def __init__(self, vocab: int, spec: ModelSpec, num_classes: int) -> None:
        super().__init__()
        d = spec.width
        self.embed = nn.Embedding(vocab, d)
        self.lstm = nn.LSTM(d, d, spec.depth, batch_first=True,
                            dropout=spec.dropout if spec.depth > 1 else 0.0)
        self.head = nn.Linear(d, num_classes, bias=spec.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(self.embed(x))
        return self.head(out[:, -1])


def build_model(
    spec: ModelSpec, input_shape: tuple[int, ...], num_classes: int, vocab: int | None = None
) -> nn.Module:
    """The model of ``spec`` for examples of ``input_shape`` (integer ids when ``vocab`` is given)."""
    if spec.arch is Arch.LSTM:
        if vocab is None or len(input_shape) != 1:
            raise ValueError("model.arch 'lstm' needs integer token inputs shaped (N, T)")
        if spec.norm is not Norm.NONE:
            raise ValueError("model.norm 'batch' is for the mlp and cnn archs, not the lstm")
        return TokenLSTM(vocab, spec, num_classes).to(spec.torch_dtype)
    if spec.arch is Arch.TRANSFORMER:
        if vocab is None or len(input_shape) != 1:
            raise ValueError("model.arch 'transformer' needs integer token inputs shaped (N, T)")
        if spec.norm is not Norm.NONE:
            raise ValueError("model.norm 'batch' is for the mlp and cnn archs, not the transformer")
        model: nn.Module = TokenTransformer(vocab, input_shape[0], spec, num_classes)
    elif spec.arch is Arch.CNN:
        if vocab is not None:
            raise ValueError("model.arch 'cnn' needs real-valued inputs, got integer tokens")
        model = _cnn(spec, input_shape, num_classes)
    else:
        model = _mlp(spec, input_shape, num_classes, vocab)
    return model.to(spec.torch_dtype)
