"""The method registry: one entry per method, filled by ``@register`` when reglab is imported.

An entry records the method's name, family (the catalog section), kind (the PyTorch extension
point it uses), paper, capabilities, and a ``sample`` function giving small arguments for the
shared contract tests. Defaults are read from the constructor's signature, so they cannot drift.

>>> import reglab, torch
>>> "l2" in reglab.available()
True
>>> reglab.create("l2", params=[torch.ones(2, 2)], strength=0.5)()
tensor(1.)
"""

from __future__ import annotations

import functools
import inspect
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from reglab._core.samples import Sample, SampleContext
from reglab._core.validation import check_choice, did_you_mean


class Family(Enum):
    """Catalog sections (``shared/catalog.md``)."""

    PARAMETER_PENALTY = "parameter-penalty"
    ACTIVITY = "activity"
    BATCH_TRANSFORM = "batch-transform"
    LOSS = "loss"
    LAYER = "layer"
    OPTIMIZER = "optimizer"
    CONTINUAL = "continual"
    TUNING = "tuning"
    DIAGNOSTIC = "diagnostic"
    TRANSPORT = "transport"


class Kind(Enum):
    """The PyTorch extension point a method plugs into (DESIGN.md section 1)."""

    PENALTY = "penalty"
    ACTIVITY = "activity"
    TRANSFORM = "transform"
    LOSS = "loss"
    LAYER = "layer"
    OPTIMIZER = "optimizer"
    POST_STEP = "post_step"
    METRIC = "metric"
    TUNER = "tuner"
    WEIGHTS = "weights"  # a function over weights outside the step: soups, task-vector merges, freezing


@dataclass(frozen=True)
class Paper:
    authors: str
    title: str
    year: int
    arxiv: str | None = None
    url: str | None = None

    def link(self) -> str:
        if self.arxiv:
            return f"https://arxiv.org/abs/{self.arxiv}"
        return self.url or ""

    def cite(self) -> str:
        ref = f"arXiv:{self.arxiv}" if self.arxiv else (self.url or "")
        return f"{self.authors}. {self.title}. {self.year}." + (f" {ref}" if ref else "")


@dataclass(frozen=True)
class Capabilities:
    """What a method needs from the training step; ``Recipe`` checks combinations with these."""

    needs_closure: bool = False  # optimizer wrapper that re-evaluates the loss
    needs_create_graph: bool = False  # backward must keep the graph (double backprop)
    changes_targets: bool = False  # transform that turns hard labels into soft targets
    needs_hard_labels: bool = False  # loss that only accepts integer class labels
    needs_sample_index: bool = False  # loss that keeps per-example state
    needs_task_boundary: bool = False  # continual method told when a task ends

    def flags(self) -> list[str]:
        return [name for name, on in vars(self).items() if on]


@dataclass(frozen=True)
class MethodEntry:
    name: str
    family: Family
    kind: Kind
    paper: Paper
    target: Callable[..., Any]
    capabilities: Capabilities = Capabilities()
    sample: Callable[[SampleContext], Sample] | None = field(default=None, repr=False)
    apply: Callable[..., Any] | None = field(default=None, repr=False)  # model surgery

    @property
    def defaults(self) -> dict[str, Any]:
        """Keyword defaults of the constructor (or function), read from its signature."""
        sig = inspect.signature(self.target)
        return {
            k: p.default
            for k, p in sig.parameters.items()
            if p.default is not inspect.Parameter.empty
        }

    @property
    def card(self) -> str:
        """The method card: the docstring of the module that defines the method."""
        module = sys.modules[self.target.__module__]
        return inspect.cleandoc(module.__doc__ or "")

    def build(self, **kwargs: Any) -> Any:
        """Construct the method; a metric or weights function becomes it with ``kwargs`` bound."""
        if self.kind in (Kind.METRIC, Kind.WEIGHTS):
            inspect.signature(self.target).bind_partial(**kwargs)
            return functools.partial(self.target, **kwargs)
        return self.target(**kwargs)


class UnknownNameError(LookupError):
    """An unknown registry, task or metric name; the message names the nearest valid ones."""

    def __str__(self) -> str:
        return str(self.args[0])


_ENTRIES: dict[str, MethodEntry] = {}
_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def register(
    name: str,
    *,
    family: Family,
    kind: Kind,
    paper: Paper,
    capabilities: Capabilities = Capabilities(),
    sample: Callable[[SampleContext], Sample] | None = None,
    apply: Callable[..., Any] | None = None,
) -> Callable[[Any], Any]:
    """Class or function decorator adding a registry entry; returns the target unchanged."""
    if not _NAME.match(name):
        raise ValueError(f"registry name must be lower-case words joined by '-', got {name!r}")

    def decorate(target: Any) -> Any:
        if name in _ENTRIES:
            raise ValueError(f"method {name!r} is already registered by {_ENTRIES[name].target}")
        _ENTRIES[name] = MethodEntry(name, family, kind, paper, target, capabilities, sample, apply)
        return target

    return decorate


def get(name: str) -> MethodEntry:
    """The entry for ``name``; an unknown name raises with the nearest names."""
    try:
        return _ENTRIES[name]
    except KeyError:
        raise UnknownNameError(
            f"unknown method {name!r}{did_you_mean(name, _ENTRIES)}; `reglab list` shows all"
        ) from None


def entries() -> Iterator[MethodEntry]:
    return iter(sorted(_ENTRIES.values(), key=lambda e: (e.family.value, e.name)))


def entry_of(obj: object) -> MethodEntry | None:
    """The entry whose target built ``obj`` (its class), or ``None`` for a plain PyTorch object."""
    for entry in _ENTRIES.values():
        if isinstance(entry.target, type) and type(obj) is entry.target:
            return entry
    return None


def available(family: Family | str | None = None) -> list[str]:
    """Registered method names, sorted, optionally for one family."""
    if family is None:
        return sorted(_ENTRIES)
    fam = check_choice("family", family, Family)
    return sorted(n for n, e in _ENTRIES.items() if e.family is fam)


def card(name: str) -> str:
    """The method card of ``name`` (its module docstring)."""
    return get(name).card


def create(name: str, **kwargs: Any) -> Any:
    """Construct a registered method by name: ``create("mixup", alpha=0.2, num_classes=10)``."""
    return get(name).build(**kwargs)
