"""Merged arms of a claim: models made after training from the kept weights of other arms' runs.

A claim's ``merges`` section names arms that are not trained but built, seed by seed, from the
final weights (``reglab.bench.run_weights``) of the runs of the arms they are ``of``::

    merges:
      greedy:  {kind: greedy-soup,  of: [lr-1e-4, lr-1e-3, ...]}   # reglab.greedy_soup
      uniform: {kind: uniform-soup, of: [lr-1e-4, lr-1e-3, ...]}   # reglab.uniform_soup
      best:    {kind: best, of: [lr-1e-4, lr-1e-3, ...]}           # best member on validation
      small-dare: {kind: dare, of: [lr-1e-4], p: 0.9}              # reglab.dare_merge

For seed s, the members are the runs of the ``of`` arms at seed s: they share the split and the
starting weights (same task, data and model settings, checked when the claim is parsed). The
greedy soup orders and adds members by accuracy on the task's validation set
(``Split.x_val``, e.g. ``val_per_class`` of finetune-digits), never the test set; so does
``best``. DARE drops and rescales (1 / (1 − p)) the delta between a run's final weights and its
starting weights (the pretrained body with the run's fresh head, rebuilt by ``prepare``), with
masks drawn from the seed's ``merge/<label>`` stream. With BatchNorm in the model, every soup
and DARE merge has its BatchNorm statistics recomputed on the training images.

A merged arm has the metrics of ``reglab.bench.evaluation.evaluate`` (``MERGED_METRICS``) and
``val_acc``; checks compare it with trained arms or other merged arms like any arm. A seed
whose member runs are not all done, or kept no weights, is left out with a note. Members must
hold only tensors in their state dicts: recipes whose surgery keeps a generator's state in the
model (Mixout, large dropout) cannot be averaged (``reglab.merging`` refuses them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import torch
from torch import nn

from reglab._core.validation import check_choice, check_number, did_you_mean
from reglab.bench import streams
from reglab.bench._config import check_keys
from reglab.bench.evaluation import evaluate
from reglab.bench.run_weights import StateDict, load_weights
from reglab.bench.runs import RunConfig
from reglab.bench.train import prepare
from reglab.merging import dare_merge, greedy_soup, uniform_soup

MERGE_KEYS = ("kind", "of", "p")
# the metrics a merged arm has (final values of ``evaluate``; no curves, no final measures)
MERGED_METRICS = ("train_loss", "train_acc", "test_loss", "test_acc", "test_ece", "shift_acc")


class MergeKind(StrEnum):
    UNIFORM_SOUP = "uniform-soup"
    GREEDY_SOUP = "greedy-soup"
    BEST = "best"  # the member with the highest validation accuracy (first on ties)
    DARE = "dare"


class MissingWeights(LookupError):
    """A member run has no kept weights (its task does not keep them, or the file is gone)."""


@dataclass(frozen=True)
class Merge:
    """A merged arm: ``kind`` over the runs of arms ``of``; ``p`` the DARE drop rate."""

    kind: MergeKind
    of: tuple[str, ...]
    p: float = 0.9

    @property
    def needs_validation(self) -> bool:
        return self.kind in (MergeKind.GREEDY_SOUP, MergeKind.BEST)


def parse_merge(raw: object, arms: Sequence[str], where: str) -> Merge:
    """A ``Merge`` from its YAML mapping; ``arms`` are the claim's trained arms."""
    d = check_keys(raw, MERGE_KEYS, where)
    if "kind" not in d or "of" not in d:
        raise ValueError(f"{where}: a merge needs 'kind' and 'of'")
    kind = check_choice(f"{where} kind", d["kind"], MergeKind)
    of = d["of"]
    if isinstance(of, str) or not isinstance(of, list) or not of:
        raise ValueError(f"{where}: 'of' must be a non-empty list of arms, got {of!r}")
    for name in of:
        if name not in arms:
            raise ValueError(
                f"{where}: unknown arm {name!r}{did_you_mean(str(name), arms)}; "
                f"trained arms: {', '.join(arms)}"
            )
    if len(set(of)) != len(of):
        raise ValueError(f"{where}: 'of' lists an arm twice: {of!r}")
    if kind is MergeKind.DARE and len(of) != 1:
        raise ValueError(f"{where}: a dare merge is of one arm, got {len(of)}")
    if "p" in d and kind is not MergeKind.DARE:
        raise ValueError(f"{where}: 'p' is the drop rate of a dare merge, not of {kind.value}")
    p = check_number(f"{where} p", d.get("p", 0.9), low=0, high=1, high_open=True)
    return Merge(kind, tuple(str(a) for a in of), float(p))


def check_members(merge: Merge, configs: Mapping[str, list[RunConfig]], where: str) -> None:
    """The members of each seed must share task, data and model (one split, one start)."""
    for runs in zip(*(configs[a] for a in merge.of), strict=True):
        first = runs[0]
        for arm, c in zip(merge.of[1:], runs[1:], strict=True):
            for part in ("task", "data", "model", "seed"):
                if getattr(c, part) != getattr(first, part):
                    raise ValueError(
                        f"{where}: arm {arm!r} has other {part} settings than {merge.of[0]!r}; "
                        "merged runs must share the split and the starting weights"
                    )


def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        return float((model(x).argmax(1) == y).double().mean())


def merged_metrics(
    merge: Merge, label: str, members: Sequence[RunConfig], cache_dir: Path
) -> tuple[dict[str, float], str]:
    """The metrics of merged arm ``label`` at one seed, and a note on what was merged.

    ``members`` are the runs of ``merge.of`` at that seed. Raises ``MissingWeights`` when a
    member kept no weights, ``ValueError`` when the merge needs a validation set the task lacks.
    """
    states: list[StateDict] = []
    for c in members:
        state = load_weights(cache_dir, c.key)
        if state is None:
            raise MissingWeights(f"run {c.key} ({c.recipe}, seed {c.seed}) kept no weights")
        states.append(state)
    first = members[0]
    with torch.random.fork_rng(devices=[]):  # prepare seeds the global generator
        split, x_train, x_test, model, _ = prepare(first, cache_dir)
    if merge.needs_validation and (split.x_val is None or split.y_val is None):
        raise ValueError(
            f"merged arm {label!r} ({merge.kind.value}) chooses on a validation set, and task "
            f"{first.task!r} with these data settings has none (finetune tasks: val_per_class > 0)"
        )
    start = {k: v.detach().clone() for k, v in model.state_dict().items()}
    has_bn = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
    recal: dict[str, Any] = {"model": model, "batches": [x_train]} if has_bn else {}
    x_val = split.x_val.to(x_test.dtype) if split.x_val is not None else None

    def val_acc(state: StateDict) -> float:
        model.load_state_dict(state)
        return _accuracy(model, x_val, split.y_val)

    note = ""
    if merge.kind is MergeKind.UNIFORM_SOUP:
        merged = uniform_soup(states, **recal)
    elif merge.kind is MergeKind.GREEDY_SOUP:
        soup = greedy_soup(states, val_acc, **recal)
        merged = soup.state_dict
        note = f"greedy soup seed {first.seed}: {', '.join(merge.of[i] for i in soup.members)}"
    elif merge.kind is MergeKind.BEST:
        scores = [val_acc(s) for s in states]
        chosen = scores.index(max(scores))
        merged = states[chosen]
        note = f"best seed {first.seed}: {merge.of[chosen]}"
    else:
        gen = streams.generator(first.seed, f"merge/{label}")
        merged = dare_merge(start, states, p=merge.p, generator=gen)
        if has_bn:
            merged = uniform_soup([merged], **recal)  # one member: only the recalibration
    model.load_state_dict(merged)
    metrics = evaluate(model, split, x_train, x_test)
    if x_val is not None:
        metrics["val_acc"] = _accuracy(model, x_val, split.y_val)
    return metrics, note
