"""hmm-text: the HMM source, its texts and windows, the Bayes floor, the LSTM model, a tiny run."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

import reglab as rl
from reglab.bench.models import ModelSpec, build_model
from reglab.bench.runs import RunConfig, Status
from reglab.bench.tasks import get_task
from reglab.bench.tasks.hmm_text import (
    bayes_loss,
    entropy_floor,
    hmm_source,
    sample_text,
    windows,
)
from reglab.bench.train import execute

SMALL = {"train_tokens": 60, "test_tokens": 40}


def test_windows_match_a_loop():
    text = torch.arange(10) * 3
    x, y = windows(text, 4)
    assert x.shape == (6, 4) and y.shape == (6,)
    for i in range(6):
        assert x[i].tolist() == text[i : i + 4].tolist() and y[i] == text[i + 4]


def test_source_rows_are_distributions_and_pi_is_stationary():
    src = hmm_source(5, 4, 0.3, seed=1)
    torch.testing.assert_close(src.transition.sum(1), torch.ones(5, dtype=torch.float64))
    torch.testing.assert_close(src.emission.sum(1), torch.ones(5, dtype=torch.float64))
    torch.testing.assert_close(src.stationary @ src.transition, src.stationary)
    assert abs(src.stationary.sum().item() - 1) < 1e-12 and (src.stationary >= 0).all()
    assert (src.transition >= 0.01 / 5).all()  # the uniform mixing: ergodic


def test_bayes_loss_equals_enumerating_hidden_paths():
    src = hmm_source(3, 4, 0.5, seed=2)
    a, b, pi = src.transition, src.emission, src.stationary
    x = torch.tensor([[0, 3, 1], [2, 2, 0], [1, 0, 3]])
    y = torch.tensor([1, 3, 0])
    losses = []
    for xs, target in zip(x.tolist(), y.tolist()):
        joint = torch.zeros(4, dtype=torch.float64)  # p(x_1..x_T, y = v) for every v
        for path in itertools.product(range(3), repeat=len(xs) + 1):
            p = pi[path[0]]
            for t, sym in enumerate(xs):
                p = p * b[path[t], sym] * a[path[t], path[t + 1]]
            joint += p * b[path[-1]]
        losses.append(-math.log(joint[target] / joint.sum()))
    assert bayes_loss(src, x, y) == pytest.approx(sum(losses) / len(losses), rel=1e-10)


def test_sample_text_follows_the_source():
    src = hmm_source(3, 3, 0.5, seed=3)
    text = sample_text(src, 40000, torch.Generator().manual_seed(0))
    assert text.dtype == torch.long and text.min() >= 0 and text.max() < 3
    freq = torch.bincount(text, minlength=3).double() / len(text)
    torch.testing.assert_close(freq, src.stationary @ src.emission, atol=0.015, rtol=0)
    # pairs: p(x_t = i, x_{t+1} = j) = Σ π(s) B(s, i) A(s, s') B(s', j)
    pairs = torch.zeros(3, 3, dtype=torch.float64)
    pairs.index_put_(
        (text[:-1], text[1:]), torch.ones(len(text) - 1, dtype=torch.float64), accumulate=True
    )
    expected = (src.stationary[:, None] * src.emission).t() @ src.transition @ src.emission
    torch.testing.assert_close(pairs / pairs.sum(), expected, atol=0.015, rtol=0)


def test_task_split_is_seeded_and_the_source_fixed():
    task = get_task("hmm-text")
    opts = task.options(SMALL)
    s0, s0b, s1 = (task.load(opts, seed, None) for seed in (0, 0, 1))
    assert s0.x_train.shape == (60, 8) and s0.x_test.shape == (40, 8)
    assert s0.num_classes == s0.vocab == 24 and s0.x_train.dtype == torch.long
    assert torch.equal(s0.x_train, s0b.x_train) and torch.equal(s0.y_test, s0b.y_test)
    assert not torch.equal(s0.x_train, s1.x_train)
    # windows overlap: each window is the previous one shifted by a token
    assert torch.equal(s0.x_train[1:, :-1], s0.x_train[:-1, 1:])
    assert torch.equal(s0.x_train[1:, -1], s0.y_train[:-1])
    floor = entropy_floor(opts, 0)
    assert 0 < floor < math.log(24)


def test_options_are_checked():
    with pytest.raises(ValueError, match="window"):
        get_task("hmm-text").options({"window": 0})
    with pytest.raises(ValueError, match="concentration"):
        get_task("hmm-text").options({"concentration": 0.0})


def test_lstm_model_reads_token_windows_and_takes_rnn_dropout():
    torch.manual_seed(0)
    model = build_model(ModelSpec(arch="lstm", width=8, depth=2), (5,), 7, vocab=7)
    x = torch.randint(0, 7, (4, 5))
    assert model(x).shape == (4, 7)
    with pytest.raises(ValueError, match="lstm"):
        build_model(ModelSpec(arch="lstm", width=8), (5,), 7)  # float inputs
    before = model.eval()(x)
    rl.apply_rnn_dropout(model, p=0.5, generator=torch.Generator().manual_seed(0))
    assert isinstance(model.lstm, rl.RNNDropout)
    torch.testing.assert_close(model.eval()(x), before)  # eval: the same network
    model.train()
    assert not torch.allclose(model(x), before)


@pytest.mark.parametrize("recipe", ["none", "rnn-dropout"])
def test_a_tiny_run_finishes(recipe):
    methods = [] if recipe == "none" else [{"name": "rnn-dropout", "args": {"p": 0.5}}]
    config = RunConfig(
        "hmm-text",
        SMALL,
        {"arch": "lstm", "width": 8, "depth": 2},
        {"name": "adam", "lr": 1e-2},
        recipe,
        methods,
        0,
        4,
        16,
        2,
    )
    result = execute(config)
    assert result.status is Status.DONE, result.message
    assert math.isfinite(result.metrics["test_loss"]) and result.metrics["test_loss"] > 0
