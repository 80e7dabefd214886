"""hmm-text: next-token prediction on text from a small random hidden Markov model; stacked LSTM.

A fixed probabilistic finite automaton (a hidden Markov model: a regular grammar with
probabilities) is drawn once from ``source_seed``: S hidden states, V symbols, each row of the
transition matrix A (S × S) and of the emission matrix B (S × V) drawn from a symmetric
Dirichlet(α) (small α: sparse rows, a near-deterministic grammar), the transitions mixed with
1% uniform so the chain is ergodic. The run's split stream draws a training text of
``train_tokens`` tokens and an independent test text of ``test_tokens`` tokens, each started in
the stationary distribution π. Every token after the first ``window`` ones is an example: the
preceding ``window`` tokens (integer ids, shape (N, T)) and the token as its label, so the test
cross-entropy is the language model's log-perplexity (nats per token) on fresh text.

The entropy floor is known: the Bayes predictor given the window is the forward filter started
in π, p(y | x_1..x_T) = π-filtered belief · A · B[:, y]; ``bayes_loss`` computes its mean
−log p on a set of windows (``entropy_floor(options, seed)`` on a run's test set). No model can
have a lower expected test loss; a train loss below it is memorization.

Traps: training windows overlap (each is the previous one shifted by a token), so a
``validation`` fraction carved out of them shares most tokens with the windows left for
training; label noise replaces next tokens in the labels but not inside the windows.

>>> task = TASKS[0]
>>> split = task.load(task.options({"train_tokens": 200, "test_tokens": 100}), 0, None)
>>> split.x_train.shape, split.num_classes, split.vocab
(torch.Size([200, 8]), 24, 24)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from reglab._core.validation import check_int, check_number
from reglab.bench import streams
from reglab.bench.datasets import Split
from reglab.bench.models import Arch, ModelSpec
from reglab.bench.optimizers import OptimizerName, OptimizerSpec
from reglab.bench.tasks.base import Budget, DataOptions, Task

MIXING = 0.01  # weight of the uniform transition mixed into A (ergodicity)


@dataclass(frozen=True)
class HmmTextOptions(DataOptions):
    """states S >= 1, symbols V >= 2, concentration α > 0 of the Dirichlet rows, window T >= 1
    tokens of context, train_tokens / test_tokens >= 1 examples, source_seed (the grammar)."""

    states: int = 32
    symbols: int = 24
    concentration: float = 0.05
    window: int = 8
    train_tokens: int = 4000
    test_tokens: int = 5000
    source_seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_int("states", self.states, low=1)
        check_int("symbols", self.symbols, low=2)
        check_number("concentration", self.concentration, low=0, low_open=True)
        check_int("window", self.window, low=1)
        check_int("train_tokens", self.train_tokens, low=1)
        check_int("test_tokens", self.test_tokens, low=1)
        check_int("source_seed", self.source_seed, low=0)


@dataclass(frozen=True)
class HmmSource:
    """transition A (S, S), emission B (S, V) and stationary distribution π (S,), float64."""

    transition: torch.Tensor
    emission: torch.Tensor
    stationary: torch.Tensor


def hmm_source(states: int, symbols: int, concentration: float, seed: int) -> HmmSource:
    """The random HMM of the module docstring, drawn from ``seed``."""
    gen = torch.Generator().manual_seed(seed)

    def rows(n: int, k: int) -> torch.Tensor:  # Dirichlet(α) rows from normalized Gamma draws
        alpha = torch.full((n, k), float(concentration), dtype=torch.float64)
        g = torch._standard_gamma(alpha, generator=gen).clamp_min(1e-300)
        return g / g.sum(1, keepdim=True)

    a = (1 - MIXING) * rows(states, states) + MIXING / states
    b = rows(states, symbols)
    evals, evecs = torch.linalg.eig(a.t())
    pi = evecs[:, evals.real.argmax()].real
    return HmmSource(a, b, (pi / pi.sum()).clamp_min(0))


def _draw(probs: torch.Tensor, u: torch.Tensor) -> int:
    return min(int(torch.searchsorted(probs.cumsum(0), u)), len(probs) - 1)


def sample_text(source: HmmSource, length: int, generator: torch.Generator) -> torch.Tensor:
    """``length`` symbols (int64) of the HMM, its first state drawn from π."""
    u = torch.rand(length, 2, generator=generator, dtype=torch.float64)
    cum_a, cum_b = source.transition.cumsum(1), source.emission.cumsum(1)
    s = _draw(source.stationary, u[0, 0])
    text = torch.empty(length, dtype=torch.long)
    last_a, last_b = source.transition.shape[0] - 1, source.emission.shape[1] - 1
    for t in range(length):
        if t:
            s = min(int(torch.searchsorted(cum_a[s], u[t, 0])), last_a)
        text[t] = min(int(torch.searchsorted(cum_b[s], u[t, 1])), last_b)
    return text


def windows(text: torch.Tensor, window: int) -> tuple[torch.Tensor, torch.Tensor]:
    """x (N, T): the T tokens before each token from position T on; y (N,): that token."""
    x = text.unfold(0, window, 1)[:-1]
    return x.contiguous(), text[window:].clone()


def bayes_loss(source: HmmSource, x: torch.Tensor, y: torch.Tensor) -> float:
    """Mean −log p(y | x) of the Bayes predictor given the window (forward filter from π)."""
    belief = source.stationary.expand(len(x), -1).clone()
    for t in range(x.shape[1]):
        belief = belief * source.emission[:, x[:, t]].t()
        belief = belief / belief.sum(1, keepdim=True)
        belief = belief @ source.transition
    p = (belief * source.emission[:, y].t()).sum(1)
    return -p.log().mean().item()


def _source(options: Any) -> HmmSource:
    return hmm_source(options.states, options.symbols, options.concentration, options.source_seed)


class HmmText(Task):
    """Next-token prediction on HMM text; see the module docstring."""

    Options = HmmTextOptions
    model = ModelSpec(Arch.LSTM, width=128, depth=2)
    optimizer = OptimizerSpec(OptimizerName.ADAM, lr=2e-3)
    budget = Budget(steps=3000, batch_size=64, eval_every=250)
    archs = (Arch.LSTM, Arch.MLP, Arch.TRANSFORMER)

    def generate(self, options: Any, split_seed: int, cache_dir: Path | None) -> Split:
        source = _source(options)
        gen = torch.Generator().manual_seed(split_seed)
        t = options.window
        x_train, y_train = windows(sample_text(source, options.train_tokens + t, gen), t)
        x_test, y_test = windows(sample_text(source, options.test_tokens + t, gen), t)
        k = options.symbols
        return Split(x_train, y_train, x_test, y_test, y_train, num_classes=k, vocab=k)


def entropy_floor(options: HmmTextOptions, seed: int) -> float:
    """The Bayes test loss (nats per token) of run ``seed``'s test set: no model does better."""
    split_seed = streams.seed_of(seed, streams.Stream.SPLIT)
    split = TASKS[0].generate(options, split_seed, None)
    return bayes_loss(_source(options), split.x_test, split.y_test)


TASKS = (
    HmmText(
        "hmm-text",
        "next token of text from a random 32-state HMM over 24 symbols, 4000 training tokens, "
        "windows of 8; 2-layer LSTM",
    ),
)
