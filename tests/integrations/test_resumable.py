"""``ResumableLoader`` hands out, after a resume from its state, the batches of the run that did not stop."""

import pytest
import torch
from torch.utils.data import DataLoader, IterableDataset, TensorDataset

from reglab.integrations.resumable import ResumableLoader


def shuffled(seed):
    data = TensorDataset(torch.arange(10.0))
    return DataLoader(data, batch_size=3, shuffle=True, generator=torch.Generator().manual_seed(seed))


def batches(loader, epochs):
    return [b[0].tolist() for _ in range(epochs) for b in loader]


@pytest.mark.parametrize("stop", [0, 2, 4])  # before any batch, in mid-epoch, at the epoch's end
def test_resume_continues_the_uninterrupted_order(stop):
    through = batches(ResumableLoader(shuffled(0)), 3)
    first = ResumableLoader(shuffled(0))
    seen = batches(first, 1)  # epoch 1 whole
    it = iter(first)
    seen += [next(it)[0].tolist() for _ in range(stop)]  # epoch 2, `stop` batches of 4
    state = first.state_dict()
    resumed = ResumableLoader(shuffled(123))  # another seed: the order must come from the state
    resumed.load_state_dict(state)
    rest = batches(resumed, 1 if stop in (1, 2, 3) else 2)
    if stop == 4:
        rest = rest[:4]
    assert seen + rest == through[:len(seen) + len(rest)]
    assert len(seen) + len(rest) >= 8


def test_a_plain_restart_would_differ():
    """The test above can fail: a new epoch from the same generator is another order."""
    loader = ResumableLoader(shuffled(0))
    assert batches(loader, 1) != batches(loader, 1)


def test_shuffling_without_a_generator_is_refused():
    with pytest.raises(ValueError, match="generator=torch.Generator"):
        ResumableLoader(DataLoader(TensorDataset(torch.arange(4.0)), batch_size=2, shuffle=True))


def test_unsized_loaders_and_foreign_states_are_refused():
    class Stream(IterableDataset):
        def __iter__(self):
            return iter(range(4))

    with pytest.raises(TypeError, match="must have a length"):
        ResumableLoader(DataLoader(Stream(), batch_size=2))
    with pytest.raises(ValueError, match="not a ResumableLoader state"):
        ResumableLoader(shuffled(0)).load_state_dict({"yielded": 1})
