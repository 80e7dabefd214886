"""RNN dropout: equals a hand-written LSTM loop whose masks touch only layer inputs and the output,
never h→h or the cell; is the wrapped nn.LSTM in eval or at p=0; drops at rate p with an exact
1/(1-p) rescale; the surgery wraps every nn.LSTM once and shares its parameters."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

import reglab as rl
from reglab.functional import lstm_nonrecurrent_dropout


def lstm_loop(lstm, x, masks):
    """Per time step LSTM cells (unidirectional, time-major); masks on inputs and output only."""
    T, N, _ = x.shape
    H = lstm.hidden_size
    inp = x
    h_n, c_n = [], []
    for k in range(lstm.num_layers):
        w_ih, w_hh = getattr(lstm, f"weight_ih_l{k}"), getattr(lstm, f"weight_hh_l{k}")
        b = getattr(lstm, f"bias_ih_l{k}") + getattr(lstm, f"bias_hh_l{k}")
        h = c = torch.zeros(N, H, dtype=x.dtype)
        outs = []
        for t in range(T):
            xt = inp[t] * masks[k][t]  # the non-recurrent input of layer k at time t
            gates = xt @ w_ih.T + h @ w_hh.T + b  # h enters unmasked: h→h is never dropped
            i, f, g, o = gates.chunk(4, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            outs.append(h)
        inp = torch.stack(outs)
        h_n.append(h)
        c_n.append(c)
    return inp * masks[-1], torch.stack(h_n), torch.stack(c_n)


def make(layers=3, batch_first=False, bidirectional=False):
    torch.manual_seed(0)
    return nn.LSTM(4, 6, num_layers=layers, batch_first=batch_first,
                   bidirectional=bidirectional, dtype=torch.float64)


def test_equals_a_cell_loop_with_masks_on_non_recurrent_connections_only():
    lstm = make()
    layer = rl.RNNDropout(lstm, p=0.4, generator=torch.Generator().manual_seed(3))
    x = torch.randn(5, 2, 4, dtype=torch.float64)
    masks = layer.masks(x)
    assert len(masks) == 4 and [m.shape[-1] for m in masks] == [4, 6, 6, 6]
    out, (h, c) = lstm_nonrecurrent_dropout(x, layer.layers, masks)
    ref_out, ref_h, ref_c = lstm_loop(lstm, x, masks)
    torch.testing.assert_close(out, ref_out)
    torch.testing.assert_close(h, ref_h)
    torch.testing.assert_close(c, ref_c)
    # The module draws the same masks from the same generator state.
    layer.generator.manual_seed(3)
    torch.testing.assert_close(layer(x)[0], ref_out)


def test_dropping_the_recurrent_state_would_change_the_result():
    # Guard for the reference: masking h as well (naive dropout) gives a different output.
    lstm = make(layers=1)
    x = torch.randn(6, 3, 4, dtype=torch.float64)
    masks = rl.RNNDropout(lstm, p=0.5, generator=torch.Generator().manual_seed(0)).masks(x)
    out, _, _ = lstm_loop(lstm, x, masks)
    w_ih, w_hh = lstm.weight_ih_l0, lstm.weight_hh_l0
    b = lstm.bias_ih_l0 + lstm.bias_hh_l0
    h = c = torch.zeros(3, 6, dtype=torch.float64)
    naive = []
    for t in range(6):
        gates = (x[t] * masks[0][t]) @ w_ih.T + (h * masks[1][t]) @ w_hh.T + b
        i, f, g, o = gates.chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        naive.append(h)
    assert not torch.allclose(torch.stack(naive) * masks[1], out)


@pytest.mark.parametrize("batch_first,bidirectional", [(False, False), (True, True)])
def test_eval_mode_and_p_zero_equal_the_wrapped_lstm(batch_first, bidirectional):
    lstm = make(2, batch_first, bidirectional)
    x = torch.randn(3, 5, 4, dtype=torch.float64)
    h0 = torch.randn(2 * (2 if bidirectional else 1), 3 if batch_first else 5, 6,
                     dtype=torch.float64)
    hx = (h0, torch.randn_like(h0))
    ref = lstm(x, hx)
    for layer in (rl.RNNDropout(lstm, p=0.5).eval(), rl.RNNDropout(lstm, p=0.0)):
        out, (h, c) = layer(x, hx)
        torch.testing.assert_close(out, ref[0])
        torch.testing.assert_close(h, ref[1][0])
        torch.testing.assert_close(c, ref[1][1])


def test_packed_sequences_pass_through():
    lstm = make(2)
    x = torch.randn(5, 3, 4, dtype=torch.float64)
    packed = pack_padded_sequence(x, torch.tensor([5, 3, 2]))
    out, (h, _) = rl.RNNDropout(lstm, p=0.0)(packed)
    ref, (ref_h, _) = lstm(packed)
    torch.testing.assert_close(out.data, ref.data)
    torch.testing.assert_close(h, ref_h)
    out, _ = rl.RNNDropout(lstm, p=0.5)(packed)
    assert out.data.shape == ref.data.shape


def test_mask_rate_is_p_with_exact_rescale():
    p, layer = 0.3, rl.RNNDropout(make(1), p=0.3, generator=torch.Generator().manual_seed(1))
    x = torch.ones(200, 50, 4, dtype=torch.float64)
    for m in layer.masks(x):
        kept = m != 0
        n = m.numel()
        assert abs(float(1 - kept.double().mean()) - p) < 4 * (p * (1 - p) / n) ** 0.5
        assert torch.equal(m[kept], torch.full_like(m[kept], 1 / (1 - p)))


def test_surgery_wraps_each_lstm_once_shares_parameters_and_trains():
    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(10, 4)
            self.rnn = nn.LSTM(4, 8, num_layers=2)
            self.head = nn.Linear(8, 10)

        def forward(self, tokens):
            return self.head(self.rnn(self.emb(tokens))[0])

    model = LM()
    weight = model.rnn.weight_hh_l1
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    assert rl.apply_rnn_dropout(model, p=0.5) is model and isinstance(model.rnn, rl.RNNDropout)
    wrapped = model.rnn
    rl.apply_rnn_dropout(model, p=0.2)
    assert model.rnn is wrapped and wrapped.p == 0.5
    assert wrapped.layers[1].weight_hh_l0 is weight
    assert "rnn.layers.1.weight_hh_l0" in model.state_dict()
    tokens = torch.randint(0, 10, (7, 3))
    loss = F.cross_entropy(model(tokens).reshape(-1, 10), tokens.reshape(-1))
    loss.backward()
    opt.step()
    assert weight.grad is not None
    assert isinstance(rl.apply_rnn_dropout(nn.LSTM(2, 3)), rl.RNNDropout)


def test_surgery_on_a_model_in_eval_mode_leaves_it_in_eval_mode():
    model = nn.Sequential(nn.LSTM(4, 8, num_layers=2)).eval()
    rl.apply_rnn_dropout(model, p=0.5)
    assert not model[0].training and not any(m.training for m in model.modules())
    assert not rl.apply_rnn_dropout(nn.LSTM(2, 3).eval()).training
    x = torch.randn(5, 2, 4)
    assert torch.equal(model(x)[0], model(x)[0])  # no dropout in eval mode


def test_bad_arguments_raise():
    with pytest.raises(TypeError, match="lstm must be an nn.LSTM"):
        rl.RNNDropout(nn.GRU(2, 3))
    with pytest.raises(ValueError, match="proj_size"):
        rl.RNNDropout(nn.LSTM(2, 4, proj_size=2))
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\)"):
        rl.apply_rnn_dropout(nn.LSTM(2, 3), p=1.0)
    with pytest.raises(ValueError, match="no nn.LSTM"):
        rl.apply_rnn_dropout(nn.Linear(2, 2))
