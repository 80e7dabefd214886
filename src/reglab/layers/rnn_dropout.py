"""RNN dropout (Zaremba et al.): dropout on the non-recurrent connections of a stacked LSTM only.

Equation (Zaremba, Sutskever & Vinyals 2014, section 3.2), for layers l = 1..L and time t::

    h_t^0 = x_t
    (h_t^l, c_t^l) = LSTM_l( D(h_t^{l−1}), h_{t−1}^l, c_{t−1}^l )      D on the input only
    y_t = D(h_t^L)                                                   and on the output
    D(v) = m ⊙ v / (1 − p),   m ~ Bernoulli(1 − p), a fresh mask per time step and unit

The recurrent connections h_{t−1}^l → h_t^l and the cell state are never dropped, so the memory
carried across time steps is not corrupted. ``nn.LSTM(dropout=p)`` drops only between layers;
this layer also drops the first layer's input (the embeddings) and the last layer's output.

Arguments:
    lstm: (``RNNDropout``) an ``nn.LSTM`` (any number of layers, ``batch_first``,
        ``bidirectional``; not ``proj_size``). Its parameters are shared, not copied; its own
        ``dropout`` is replaced by ``p``.
    p: dropout probability in [0, 1) on every non-recurrent connection (the paper uses 0.5 for
        its medium and 0.65 for its large network).
    generator: optional ``torch.Generator``; its state is kept in ``state_dict()``.
    (``apply_rnn_dropout``) model: every ``nn.LSTM`` in it is wrapped in an ``RNNDropout``.

Returns:
    ``forward(x, hx=None)`` returns ``(output, (h_n, c_n))`` exactly like ``nn.LSTM`` (a
    ``PackedSequence`` in, a ``PackedSequence`` out); in eval mode or with p = 0 it equals the
    wrapped ``nn.LSTM``. ``RNNDropout.masks(x)`` returns the L + 1 masks a call would use and
    ``reglab.functional.lstm_nonrecurrent_dropout(x, layers, masks, hx)`` runs the stack with them.

Example:
    >>> import torch, reglab as rl
    >>> lstm = torch.nn.LSTM(input_size=4, hidden_size=8, num_layers=2)
    >>> layer = rl.RNNDropout(lstm, p=0.5)
    >>> out, (h, c) = layer(torch.randn(7, 3, 4))           # (T, N, features)
    >>> out.shape, h.shape
    (torch.Size([7, 3, 8]), torch.Size([2, 3, 8]))

Reference:
    Wojciech Zaremba, Ilya Sutskever, Oriol Vinyals. Recurrent Neural Network Regularization.
    2014. arXiv:1409.2329.

Traps:
    - Runs one ``nn.LSTM`` call per layer (cuDNN still runs each layer); the parameters move
      under ``<name>.layers.<l>`` in ``state_dict``, so load checkpoints saved after the surgery
      into a model that had it applied.
    - The masks are fresh at every time step (the paper's form), not "locked" across time as in
      variational dropout (Gal & Ghahramani), which may also drop recurrent connections.
    - The returned h_n of the last layer is not dropped (it is recurrent state); only ``output``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence

from reglab._core.generator_state import GeneratorState
from reglab._core.registry import Family, Kind, Paper, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.validation import check_generator, check_probability
from reglab.layers._random import keep_mask

RNN_REGULARIZATION = Paper(
    authors="Wojciech Zaremba, Ilya Sutskever, Oriol Vinyals",
    title="Recurrent Neural Network Regularization",
    year=2014,
    arxiv="1409.2329",
)

State = tuple[torch.Tensor, torch.Tensor]


def _apply_mask(x: torch.Tensor | PackedSequence, mask: torch.Tensor | None):
    if mask is None:
        return x
    if isinstance(x, PackedSequence):
        return x._replace(data=x.data * mask)
    return x * mask


def lstm_nonrecurrent_dropout(
    x: torch.Tensor | PackedSequence,
    layers: Sequence[nn.LSTM],
    masks: Sequence[torch.Tensor | None],
    hx: State | None = None,
) -> tuple[torch.Tensor | PackedSequence, State]:
    """Run single-layer LSTMs in turn, multiplying each layer's input and the last output by a mask.

    ``masks`` holds len(layers) + 1 tensors (already scaled by 1/(1 − p), shaped like the
    corresponding input, or its ``.data`` for packed sequences) or ``None`` for no dropout; the
    recurrent state is never masked. Returns ``(output, (h_n, c_n))`` like ``nn.LSTM``.
    """
    if len(masks) != len(layers) + 1:
        raise ValueError(f"masks must hold {len(layers) + 1} entries (one per layer input and "
                         f"the output), got {len(masks)}")
    d = 2 if layers[0].bidirectional else 1
    states = [None] * len(layers) if hx is None else list(
        zip(hx[0].split(d), hx[1].split(d))
    )
    h_n, c_n = [], []
    out = x
    for layer, mask, state in zip(layers, masks, states):
        out, (h, c) = layer(_apply_mask(out, mask), state)
        h_n.append(h)
        c_n.append(c)
    return _apply_mask(out, masks[-1]), (torch.cat(h_n), torch.cat(c_n))


def _split_layers(lstm: nn.LSTM) -> nn.ModuleList:
    """Single-layer ``nn.LSTM``s sharing ``lstm``'s parameters, layer by layer."""
    d = 2 if lstm.bidirectional else 1
    layers = nn.ModuleList()
    for k in range(lstm.num_layers):
        size = lstm.input_size if k == 0 else lstm.hidden_size * d
        one = nn.LSTM(size, lstm.hidden_size, 1, bias=lstm.bias, batch_first=lstm.batch_first,
                      bidirectional=lstm.bidirectional, device="meta")
        for name in one._flat_weights_names:
            setattr(one, name, getattr(lstm, name.replace("_l0", f"_l{k}")))
        layers.append(one)
    return layers


def _sample(ctx: SampleContext) -> Sample:
    with torch.random.fork_rng():
        torch.manual_seed(ctx.seed)
        lstm = nn.LSTM(5, 4, num_layers=2, dtype=ctx.dtype)
        gru = nn.GRU(5, 4)
    return Sample(
        kwargs={"lstm": lstm, "p": 0.5, "generator": torch.Generator().manual_seed(ctx.seed)},
        inputs=(ctx.x.reshape(3, 2, 5),),
        invalid=({"p": 1.0}, {"p": -0.1}, {"lstm": gru}, {"generator": 3}),
        identity={"p": 0.0},
        reference=lstm,
    )


def apply_rnn_dropout(
    model: nn.Module, p: float = 0.5, generator: torch.Generator | None = None
) -> nn.Module:
    """Wrap every ``nn.LSTM`` of ``model`` in an ``RNNDropout``; see the module docstring."""
    p = check_probability("p", p, high_open=True)
    if type(model) is nn.LSTM:
        return RNNDropout(model, p, generator).train(model.training)
    found, inside = False, []
    for name, module in list(model.named_modules()):
        if any(name.startswith(w + ".") for w in inside):
            continue
        if isinstance(module, RNNDropout):
            found, inside = True, inside + [name]
        elif type(module) is nn.LSTM and name:
            parent, _, child = name.rpartition(".")
            wrapper = RNNDropout(module, p, generator).train(module.training)  # keep eval mode
            setattr(model.get_submodule(parent), child, wrapper)
            found, inside = True, inside + [name]
    if not found:
        raise ValueError("model has no nn.LSTM layers for RNN dropout")
    return model


@register(
    "rnn-dropout",
    family=Family.LAYER,
    kind=Kind.LAYER,
    paper=RNN_REGULARIZATION,
    sample=_sample,
    apply=apply_rnn_dropout,
)
class RNNDropout(GeneratorState, nn.Module):
    """A stacked LSTM with dropout on non-recurrent connections; see ``reglab.card("rnn-dropout")``."""

    def __init__(self, lstm: nn.LSTM, p: float = 0.5, generator: torch.Generator | None = None) -> None:
        super().__init__()
        if type(lstm) is not nn.LSTM:
            raise TypeError(f"lstm must be an nn.LSTM, got {type(lstm).__name__}")
        if lstm.proj_size:
            raise ValueError(f"lstm must have proj_size=0, got {lstm.proj_size}")
        self.p = check_probability("p", p, high_open=True)
        self.generator = check_generator(generator)
        self.layers = _split_layers(lstm)

    def masks(self, x: torch.Tensor | PackedSequence) -> list[torch.Tensor | None]:
        """The L + 1 scaled masks of one training call on ``x`` (None everywhere when p = 0)."""
        if self.p == 0.0:
            return [None] * (len(self.layers) + 1)
        data = x.data if isinstance(x, PackedSequence) else x
        first = self.layers[0]
        out_width = first.hidden_size * (2 if first.bidirectional else 1)
        shapes = [data.shape] + [data.shape[:-1] + (out_width,)] * len(self.layers)
        keep = 1.0 - self.p
        return [keep_mask(s, keep, data, self.generator) / keep for s in shapes]

    def forward(self, x: torch.Tensor | PackedSequence, hx: State | None = None):
        masks = self.masks(x) if self.training else [None] * (len(self.layers) + 1)
        return lstm_nonrecurrent_dropout(x, self.layers, masks, hx)

    def extra_repr(self) -> str:
        return f"p={self.p}"
