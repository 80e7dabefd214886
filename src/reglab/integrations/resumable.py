"""``ResumableLoader``: a ``DataLoader`` that a checkpoint can stop and resume in mid-epoch.

Lightning resumes a run from a checkpoint saved in the middle of an epoch exactly only when the
train loader is *resumable*: it has ``state_dict()`` / ``load_state_dict()`` (Lightning then saves
and restores its state with the checkpoint). A plain ``DataLoader`` is not, so Lightning warns
and starts the epoch again from its first batch. ``ResumableLoader(loader)`` wraps a sized
``DataLoader`` (any sampler, shuffled or not, any ``num_workers``) and holds:

- the state of the loader's random generators (``DataLoader(generator=...)`` and the sampler's)
  when the current epoch began, and now;
- how many batches of the epoch it has handed out.

Resumed in mid-epoch, it restores the generators as they were when the epoch began, draws the
same order and skips the batches already trained on (they are loaded and dropped, once); resumed
at an epoch's end, it restores the generators as they are now. The batches then come in the same
order as in the run that did not stop.

Example::

    loader = DataLoader(dataset, batch_size=32, shuffle=True,
                        generator=torch.Generator().manual_seed(0))
    trainer.fit(model, ResumableLoader(loader))             # checkpoints hold the loader's state
    trainer.fit(model, ResumableLoader(loader), ckpt_path="step=700.ckpt")

Traps:
    - A shuffled loader needs ``generator=``: without it ``RandomSampler`` draws its order from
      the global random state, which a checkpoint does not hold; that is refused.
    - A sampler that draws from the global random state in another way (a custom sampler) is
      not restored; give it a generator of its own and expose it as ``sampler.generator``.
    - Lightning replaces the sampler of a ``DataLoader`` for distributed training, but not of a
      wrapper: on several devices give the loader a ``DistributedSampler`` yourself.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, RandomSampler

__all__ = ["ResumableLoader"]


class ResumableLoader:
    """A sized ``DataLoader`` with ``state_dict()`` / ``load_state_dict()``; see the module docstring."""

    def __init__(self, loader: DataLoader) -> None:
        if not isinstance(loader, DataLoader):
            raise TypeError(f"loader must be a torch.utils.data.DataLoader, got {type(loader).__name__}")
        try:
            len(loader)
        except TypeError as err:
            raise TypeError(
                "loader must have a length (a map-style dataset): an iterable dataset cannot be "
                "positioned in mid-epoch by ResumableLoader"
            ) from err
        sampler = loader.sampler
        if isinstance(sampler, RandomSampler) and sampler.generator is None:
            raise ValueError(
                "loader shuffles with the global random state, which a checkpoint does not hold: "
                "give it a generator, DataLoader(..., shuffle=True, generator=torch.Generator().manual_seed(0))"
            )
        self.loader = loader
        self.dataset = loader.dataset
        self._yielded = 0
        self._at_start: list[torch.Tensor] = self._states()
        self._pending: dict[str, Any] | None = None

    def _generators(self) -> list[torch.Generator]:
        found: list[torch.Generator] = []
        for owner in (self.loader, self.loader.sampler, getattr(self.loader.batch_sampler, "sampler", None)):
            g = getattr(owner, "generator", None)
            if isinstance(g, torch.Generator) and all(g is not h for h in found):
                found.append(g)
        return found

    def _states(self) -> list[torch.Tensor]:
        return [g.get_state() for g in self._generators()]

    def _set_states(self, states: list[torch.Tensor]) -> None:
        generators = self._generators()
        if len(states) != len(generators):
            raise ValueError(
                f"the saved loader state holds {len(states)} generators, but this loader has "
                f"{len(generators)}; resume with a loader built as the saved one"
            )
        for g, state in zip(generators, states):
            g.set_state(state)

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[Any]:
        skip = 0
        if self._pending is not None:
            pending, self._pending = self._pending, None
            skip = pending["yielded"]
            if 0 < skip < len(self):  # in mid-epoch: the epoch again, from its beginning
                self._set_states(pending["at_start"])
            else:  # at an epoch's end (or before any batch): the next epoch, from here
                self._set_states(pending["now"])
                skip = 0
        self._at_start = self._states()
        self._yielded = 0
        for position, batch in enumerate(self.loader):
            self._yielded = position + 1
            if position >= skip:
                yield batch

    def state_dict(self) -> dict[str, Any]:
        """The generators' states when the epoch began and now, and the batches handed out."""
        return {"at_start": self._at_start, "now": self._states(), "yielded": self._yielded}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Resume from ``state_dict`` at the next ``iter()``."""
        missing = {"at_start", "now", "yielded"} - set(state_dict)
        if missing:
            raise ValueError(f"not a ResumableLoader state: {sorted(missing)} missing")
        self._pending = dict(state_dict)

    def __repr__(self) -> str:
        return f"ResumableLoader({self.loader!r})"
