"""Search spaces, trial configs and the deterministic (resumable) grid and TPE search."""

import math

import pytest

from reglab.bench.recipes import load_recipe
from reglab.bench.runs import Settings
from reglab.bench.search import Sampler, parse_space, search, trial_config, with_value


def test_spaces_parse_and_grids_are_evenly_spaced_on_their_scale():
    space = parse_space("methods.0.strength=log:1e-5:1e-1")
    assert space.grid(5) == [1e-5, 1e-4, 1e-3, 1e-2, 1e-1]
    assert parse_space("optimizer.lr=linear:0:1").grid(3) == [0.0, 0.5, 1.0]
    for bad, msg in [
        ("methods.0.strength", "PATH=SCALE:LOW:HIGH"),
        ("methods.x.strength=log:1:2", "methods.I.ARG"),
        ("methods.0.strength=log:0:1", "low must be > 0"),
        ("methods.0.strength=cubic:1:2", "scale"),
        ("methods.0.strength=log:2:1", "high"),
    ]:
        with pytest.raises(ValueError, match=msg):
            parse_space(bad)
    with pytest.raises(ValueError, match="has 1 method"):
        with_value(load_recipe("elr"), "methods.1.strength", 1.0)
    assert with_value(load_recipe("cutout"), "methods.0.size", 3.2).methods[0].args["size"] == 3


def test_a_trial_is_a_run_on_the_validation_split():
    config = trial_config("digits", load_recipe("l2"), "methods.0.strength", 0.01)
    assert config.data["validation"] == 0.2 and config.methods[0]["args"]["strength"] == 0.01
    plain = trial_config("digits", load_recipe("l2"), "methods.0.strength", 0.01, validation=0)
    assert plain.data["validation"] == 0.0 and plain.key != config.key


class FakeStore:
    """Scores a config without training (a smooth function of the value); counts the runs."""

    def __init__(self):
        self.scores, self.ran = {}, []

    def evaluate(self, configs):
        for c in configs:
            if c.key not in self.scores:
                self.ran.append(c.key)
                v = c.methods[0]["args"]["strength"]
                self.scores[c.key] = -((math.log10(v) + 3) ** 2)
        return {c.key: self.scores[c.key] for c in configs}


def _make(value):
    return trial_config(
        "digits",
        load_recipe("l2"),
        "methods.0.strength",
        value,
        settings=[Settings(budget={"steps": 2})],
    )


def test_grid_search_picks_the_best_and_reruns_nothing():
    store, space = FakeStore(), parse_space("methods.0.strength=log:1e-5:1e-1")
    result = search(space, _make, store.evaluate, 5, Sampler.GRID)
    assert result.best.value == 1e-3 and len(store.ran) == 5
    search(space, _make, store.evaluate, 5, Sampler.GRID)
    assert len(store.ran) == 5


def test_a_stopped_tpe_search_resumes_without_repeating_a_trial():
    pytest.importorskip("optuna", reason="the tpe sampler needs the tune extra (optuna)")
    space = parse_space("methods.0.strength=log:1e-5:1e-1")
    through = FakeStore()
    whole = search(space, _make, through.evaluate, 12, Sampler.TPE, seed=1, batch=2)
    stopped = FakeStore()
    search(space, _make, stopped.evaluate, 5, Sampler.TPE, seed=1, batch=2)  # killed after 5
    first = list(stopped.ran)
    resumed = search(space, _make, stopped.evaluate, 12, Sampler.TPE, seed=1, batch=2)
    assert [t.key for t in resumed.trials] == [t.key for t in whole.trials]
    assert stopped.ran[: len(first)] == first and len(stopped.ran) == len(set(stopped.ran))
    assert len(stopped.ran) == len({t.key for t in whole.trials})
    assert -4 < math.log10(resumed.best.value) < -2  # TPE found the peak at 1e-3
