"""Parameter selection: which parameters a penalty or optimizer wrapper acts on.

``select(model, "weights")`` (the default) leaves out biases, normalization parameters and
embeddings, like the usual no-decay parameter groups; ``"all"`` keeps everything; a predicate
``(name, param) -> bool`` chooses freely.

>>> from torch import nn
>>> model = nn.Sequential(nn.Linear(4, 3), nn.LayerNorm(3), nn.Linear(3, 2))
>>> select(model).names()
('0.weight', '2.weight')
>>> len(select(model, "all"))
6
>>> select(model, lambda name, p: name.startswith("2.")).names()
('2.weight', '2.bias')
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum

import torch
from torch import nn

from reglab._core.validation import check_choice

Predicate = Callable[[str, nn.Parameter], bool]

# Modules whose parameters the "weights" selection leaves out.
_NORMALIZATION = (
    nn.modules.batchnorm._NormBase,
    nn.LayerNorm,
    nn.GroupNorm,
    nn.LocalResponseNorm,
    nn.RMSNorm,
)
_EMBEDDING = (nn.Embedding, nn.EmbeddingBag)


class Which(StrEnum):
    """Named selections."""

    WEIGHTS = "weights"
    ALL = "all"


@dataclass(frozen=True)
class Selection:
    """An ordered, named, duplicate-free set of parameters. Iterating yields the parameters."""

    named: tuple[tuple[str, torch.Tensor], ...]

    def __iter__(self) -> Iterator[torch.Tensor]:
        return (p for _, p in self.named)

    def __len__(self) -> int:
        return len(self.named)

    def names(self) -> tuple[str, ...]:
        return tuple(n for n, _ in self.named)

    def params(self) -> list[torch.Tensor]:
        return [p for _, p in self.named]

    def numel(self) -> int:
        return sum(p.numel() for _, p in self.named)

    def check_finite(self) -> None:
        """Raise ``ValueError`` naming the first parameter that holds NaN or Inf.

        One reduction and one device sync for the whole selection.
        """
        if not self.named:
            return
        sums = torch._foreach_norm([p.detach() for p in self.params()], ord=1)
        finite = torch.isfinite(torch.stack([s.float() for s in sums]))
        if not bool(finite.all()):
            bad = self.named[int((~finite).nonzero()[0])][0]
            raise ValueError(f"parameter {bad!r} has non-finite values (NaN or Inf)")


def _leaves_out(model: nn.Module) -> set[int]:
    """Ids of the parameters the "weights" selection leaves out."""
    skip: set[int] = set()
    for module in model.modules():
        if isinstance(module, _NORMALIZATION + _EMBEDDING):
            skip.update(id(p) for p in module.parameters(recurse=False))
    for name, p in model.named_parameters():
        if name.rsplit(".", 1)[-1] == "bias" or p.ndim < 2:
            skip.add(id(p))
    return skip


def select(model: nn.Module, which: str | Which | Predicate = Which.WEIGHTS) -> Selection:
    """Select parameters of ``model`` by name (``"weights"``, ``"all"``) or by predicate.

    "weights" keeps tensors of two or more dimensions that are not biases and do not belong to a
    normalization layer or an embedding. The order is ``model.named_parameters()``'s.
    """
    named = list(model.named_parameters())
    if callable(which) and not isinstance(which, str):
        chosen = [(n, p) for n, p in named if which(n, p)]
    elif check_choice("which", which, Which) is Which.ALL:
        chosen = named
    else:
        skip = _leaves_out(model)
        chosen = [(n, p) for n, p in named if id(p) not in skip]
    return Selection(tuple(chosen))


def as_selection(
    params: Selection | nn.Module | Iterable[torch.Tensor], name: str = "params"
) -> Selection:
    """Normalize the ``params`` argument that penalties and wrappers accept.

    A module means ``select(module, "weights")``; an iterable of tensors is taken as given (names
    are positions); duplicates are dropped. An empty result raises ``ValueError``.
    """
    if isinstance(params, Selection):
        selection = params
    elif isinstance(params, nn.Module):
        selection = select(params)
    elif isinstance(params, torch.Tensor):
        raise TypeError(f"{name} must be an iterable of tensors or a module, got a single tensor")
    elif isinstance(params, (str, bytes)) or not isinstance(params, Iterable):
        raise TypeError(
            f"{name} must be a module, a Selection or an iterable of tensors, "
            f"got {params!r} ({type(params).__name__})"
        )
    else:
        items = list(params)
        for i, p in enumerate(items):
            if not isinstance(p, torch.Tensor):
                raise TypeError(f"{name}[{i}] must be a tensor, got {type(p).__name__}")
        seen: set[int] = set()
        named = []
        for i, p in enumerate(items):
            if id(p) not in seen:
                seen.add(id(p))
                named.append((str(i), p))
        selection = Selection(tuple(named))
    if len(selection) == 0:
        raise ValueError(f"{name} selects no parameters; check the model or the selection")
    return selection


def optimizer_selection(
    optimizer: torch.optim.Optimizer,
    params: Selection | nn.Module | Iterable[torch.Tensor] | None,
    name: str = "params",
) -> frozenset[int] | None:
    """Ids of the tensors an optimizer wrapper acts on; ``None`` (the default) means all.

    ``params`` is normalized by :func:`as_selection` and must only hold tensors that
    ``optimizer`` updates; the error names the strangers.
    """
    if params is None:
        return None
    chosen = as_selection(params, name)
    known = {id(p) for g in optimizer.param_groups for p in g["params"]}
    strangers = [n for n, p in chosen.named if id(p) not in known]
    if strangers:
        raise ValueError(f"{name} holds tensors the optimizer does not update: {strangers}")
    return frozenset(id(p) for p in chosen)
