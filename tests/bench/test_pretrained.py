"""Pretrained starting points: trained once, cached by key, loaded without the head."""

import pytest
import torch

from reglab.bench import pretrained
from reglab.bench.models import ModelSpec, build_model

SPEC = ModelSpec(width=8, depth=1)
SOURCE = torch.randn(40, 4, generator=torch.Generator().manual_seed(0)), torch.arange(40) % 3
FAST = pretrained.Pretraining(steps=3, batch_size=8)


def test_weights_are_trained_once_then_read_from_the_cache(tmp_path):
    build = lambda: build_model(SPEC, (4,), 3)  # noqa: E731
    first = pretrained.pretrained_state(build, *SOURCE, FAST, "k", tmp_path)
    assert (tmp_path / "pretrained" / "k.pt").exists()

    def never():
        raise AssertionError("a cached key must not train again")

    again = pretrained.pretrained_state(never, *SOURCE, FAST, "k", tmp_path)
    assert all(torch.equal(first[k], again[k]) for k in first)
    fresh = pretrained.pretrained_state(build, *SOURCE, FAST, "k", None)  # no cache: same training
    assert all(torch.equal(first[k], fresh[k]) for k in first)


def test_start_from_keys_the_cache_by_the_source_settings(tmp_path):
    for source in ({"n": 1}, {"n": 1}, {"n": 2}):
        model = build_model(SPEC, (4,), 3)
        pretrained.start_from(model, SPEC, "task", *SOURCE, FAST, tmp_path, source)
    assert len(list((tmp_path / "pretrained").glob("*.pt"))) == 2


def test_load_start_refuses_weights_of_another_model():
    model = build_model(ModelSpec(width=8, depth=1), (4,), 3)
    other = build_model(ModelSpec(width=8, depth=2), (4,), 3).state_dict()
    with pytest.raises(ValueError, match="lacks"):
        pretrained.load_start(model, other)
