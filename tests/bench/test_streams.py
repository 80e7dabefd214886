import pytest
import torch

from reglab.bench import streams
from reglab.bench.datasets import modular_addition
from reglab.bench.tasks import get_task


def test_each_stream_has_its_own_seed_fixed_by_the_run_seed_and_name():
    names = [*streams.Stream, *(streams.method_stream(i) for i in range(4))]
    seeds = [streams.seed_of(3, n) for n in names]
    assert len(set(seeds)) == len(names)  # no two streams share a seed
    assert seeds == [streams.seed_of(3, n) for n in names]  # deterministic
    assert streams.seed_of(4, streams.Stream.SPLIT) != streams.seed_of(3, streams.Stream.SPLIT)
    assert all(0 <= s < 2**63 for s in seeds)
    a = torch.rand(5, generator=streams.generator(3, "method-0"))
    assert torch.equal(a, torch.rand(5, generator=streams.generator(3, "method-0")))


def test_bad_run_seed_or_index_is_refused():
    with pytest.raises(ValueError, match="run_seed"):
        streams.seed_of(-1, streams.Stream.INIT)
    with pytest.raises(ValueError, match="index"):
        streams.method_stream(-1)


def test_tasks_split_with_the_split_stream_and_noise_with_its_own():
    task = get_task("modular-addition")
    clean = task.load(task.options({"p": 11}), seed=5, cache_dir=None)
    reference = modular_addition(11, 0.4, streams.seed_of(5, streams.Stream.SPLIT))
    assert torch.equal(clean.x_train, reference.x_train)
    noisy = task.load(task.options({"p": 11, "label_noise": 0.3}), seed=5, cache_dir=None)
    assert torch.equal(noisy.x_train, clean.x_train)  # the noise does not move the split
