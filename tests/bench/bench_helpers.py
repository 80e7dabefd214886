"""Helpers of the harness tests: tiny settings and stand-in methods registered per test."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from reglab._core import registry
from reglab._core.registry import Family, Kind, Paper
from reglab.bench.runs import Settings, resolve
from reglab.optim._wrapper import OptimizerWrapper

# A 1-hidden-layer MLP of width 16 on digits, 20 steps: a run takes a fraction of a second.
TINY = Settings(
    model={"arch": "mlp", "width": 16, "depth": 1}, budget={"steps": 20, "eval_every": 10}
)


def tiny(recipe="none", seed=0, task="digits", settings=(), arm=None):
    return resolve(task, recipe, seed, [TINY, *settings], arm)


PAPER = Paper("T", "Test", 2024)


class NanAfter(nn.Module):
    """A penalty that is 0 for ``after`` calls, then NaN (to make a run diverge)."""

    def __init__(self, params, after=3):
        super().__init__()
        self.calls, self.after, self.anchor = 0, after, next(iter(params.parameters()))

    def forward(self):
        self.calls += 1
        return self.anchor.sum() * (math.nan if self.calls > self.after else 0.0)


class RaiseAfter(nn.Module):
    """A penalty that raises ``error`` on call number ``after`` + 1."""

    def __init__(self, params, after=3, error="runtime"):
        super().__init__()
        self.calls, self.after, self.error = 0, after, error

    def forward(self):
        self.calls += 1
        if self.calls > self.after:
            raise (
                KeyboardInterrupt if self.error == "interrupt" else RuntimeError("stand-in failure")
            )
        return torch.zeros(())


class Wrap(OptimizerWrapper):
    """An optimizer wrapper that records its nesting (``label``) and steps the inner optimizer."""

    def __init__(self, optimizer, label="a"):
        super().__init__(optimizer, {})
        self.label = label

    def step(self, closure=None):
        return self.optimizer.step(closure)


def add_scale(model, init=1.0):
    """Surgery stand-in: append a learnable output scale to ``model`` (a new parameter)."""
    if not isinstance(model[-1], Scale):
        model.append(Scale(init))  # the models are nn.Sequential
    return model


class Scale(nn.Module):
    def __init__(self, init):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(float(init)))

    def forward(self, x):
        return x * self.scale


STAND_INS = {
    "test-nan-after": {"target": NanAfter, "kind": Kind.PENALTY},
    "test-raise-after": {"target": RaiseAfter, "kind": Kind.PENALTY},
    "test-wrap": {"target": Wrap, "kind": Kind.OPTIMIZER},
    "test-scale": {"target": Scale, "kind": Kind.LAYER, "apply": add_scale},
}


@pytest.fixture
def stand_ins():
    """Register the stand-in methods for one test (in this process only: use workers=1)."""
    for name, spec in STAND_INS.items():
        registry.register(
            name, family=Family.OPTIMIZER, kind=spec["kind"], paper=PAPER, apply=spec.get("apply")
        )(spec["target"])
    yield
    for name in STAND_INS:
        del registry._ENTRIES[name]


# The CLI, with one change: after its ``stop_at``-th stored run the process sends itself
# ``sig``, so the stop point does not depend on machine speed. SIGINT is reset to Python's
# handler first: a test started as a background job inherits SIGINT ignored, and the CLI
# (rightly) keeps an ignored SIGINT ignored.
STOPPING_CLI = """
import os, signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)
from reglab.bench.store import Store
write, stop_at, sig = Store.write, int(sys.argv[1]), int(sys.argv[2])
def write_then_stop(self, config, result):
    write(self, config, result)
    if self.db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == stop_at:
        os.kill(os.getpid(), sig)
Store.write = write_then_stop
from reglab._cli.main import main
sys.exit(main(sys.argv[3:]))
"""
