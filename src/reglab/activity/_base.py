"""Shared plumbing of activity penalties: hooks on named modules, one step's activations, DDP gather.

``ActivityPenalty(model, modules=[...], strength=...)`` registers a forward hook on each named
module. A hook keeps the module's latest activation of the current step (one tensor a module:
no list grows, and ``forward()`` drops them, so no graph outlives the step). ``forward()`` returns
``strength · Σ_m value(a_m)`` like a parameter penalty, so it goes into the loss and into
``Recipe`` the same way. ``remove()`` or leaving a ``with`` block takes the hooks off.

Silent: a module that runs in eval mode or under ``torch.no_grad()`` records nothing, and the
penalty returns a zero (no graph) when it is in eval mode itself or when every module ran silent.
Refused, with the module's name: a name the model does not have (the nearest names are
suggested), a module that did not run since the last call, and, on CPU, a NaN or Inf activation
(on an accelerator that check would synchronise every step and is left out, like the parameter
penalties'). Under ``torch.distributed`` with more than one process, methods whose value is a
batch statistic (VNE, coding rate, FLOPS) gather the activations of all ranks with an all-gather
that keeps gradients, so the value and its gradient are those of the global batch.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from enum import Enum
from typing import Any, ClassVar

import torch
import torch.distributed as dist
from torch import nn

from reglab._core.schedules import Schedule, Strength
from reglab._core.validation import check_bool, check_choice, check_strength, did_you_mean


class Site(Enum):
    """Which tensor of a hooked module is penalized: its output, or its first positional input."""

    OUTPUT = "output"
    INPUT = "input"


_SILENT = object()  # the module ran, in eval mode or without grad: nothing to penalize


def resolve_modules(model: nn.Module, modules: str | Sequence[str]) -> dict[str, nn.Module]:
    """Map each name in ``modules`` to ``model``'s submodule; unknown names raise with suggestions."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    names = [modules] if isinstance(modules, str) else modules
    if not isinstance(names, Sequence) or not all(isinstance(n, str) for n in names):
        raise TypeError(f"modules must be a module name or a list of names, got {modules!r}")
    if len(names) == 0:
        raise ValueError("modules must name at least one module of the model, got []")
    if len(set(names)) != len(names):
        raise ValueError(f"modules must not repeat a name, got {list(names)}")
    table = dict(model.named_modules())
    out = {}
    for name in names:
        if name not in table:
            valid = [n for n in table if n]
            raise ValueError(
                f"modules: the model has no module {name!r}{did_you_mean(name, valid)}; "
                f"its modules are {', '.join(repr(n) for n in valid[:12])}"
                + (" ..." if len(valid) > 12 else "")
            )
        out[name] = table[name]
    return out


def gather_rows(z: torch.Tensor) -> torch.Tensor:
    """Rows of ``z`` from every rank, concatenated in rank order, keeping gradients.

    Without an initialized process group of more than one rank it returns ``z``. Every rank
    must pass the same shape (use ``drop_last=True`` in the data loader).
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return z
    from torch.distributed.nn.functional import all_gather

    return torch.cat(all_gather(z), dim=0)


class ActivityPenalty(nn.Module):
    """Base class: ``forward()`` returns ``strength · Σ_m value(a_m)`` over the hooked modules.

    Subclasses implement ``value(a)`` with their pure function. A subclass whose value is a
    statistic of the whole batch sets ``batch_statistic = True``: its activations are gathered
    across ranks (``gather=True``) and handed to ``value`` as a matrix (N, features).
    """

    batch_statistic: ClassVar[bool] = False
    strength_low: ClassVar[float | None] = 0.0  # None: any real strength (the sign has a meaning)

    def __init__(
        self,
        model: nn.Module,
        modules: str | Sequence[str],
        strength: float | Schedule,
        *,
        site: Site | str = Site.OUTPUT,
        gather: bool = True,
    ) -> None:
        super().__init__()
        targets = resolve_modules(model, modules)
        self.strength = Strength(check_strength("strength", strength, low=self.strength_low))  # type: ignore[arg-type]
        self.site = check_choice("site", site, Site)
        self.gather = check_bool("gather", gather)
        self.modules_names = tuple(targets)
        self._acts: dict[str, Any] = {}
        self._like: tuple[torch.dtype, torch.device] | None = None  # of the last activation seen
        ref = weakref.ref(self)
        self._handles = []
        for name, module in targets.items():
            self._handles.extend(self._hook(ref, name, module))

    # hooks -------------------------------------------------------------------------------
    def _hook(self, ref: weakref.ref, name: str, module: nn.Module) -> list[Any]:
        def hook(mod: nn.Module, args: tuple[Any, ...], output: Any) -> None:
            pen = ref()
            if pen is not None:
                pen._record(name, mod, args, output)

        return [module.register_forward_hook(hook)]

    def _record(self, name: str, module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        if self.site is Site.OUTPUT:
            a = output
        else:
            a = args[0] if args else None
        if not isinstance(a, torch.Tensor) or not a.is_floating_point():
            raise TypeError(
                f"{type(self).__name__}: module {name!r} gave a {type(a).__name__} as its "
                f"{self.site.value}, not a floating tensor; hook a submodule whose {self.site.value} "
                "is one tensor"
            )
        self._like = (a.dtype, a.device)
        silent = not (module.training and self.training and torch.is_grad_enabled())
        self._acts[name] = _SILENT if silent else self._capture(a, args, output)

    def _capture(self, a: torch.Tensor, args: tuple[Any, ...], output: Any) -> Any:
        return a

    def remove(self) -> None:
        """Take the hooks off the model and drop the stored activations; idempotent."""
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._acts.clear()
        self._like = None

    def __enter__(self) -> ActivityPenalty:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    # value -------------------------------------------------------------------------------
    def value(self, a: Any) -> torch.Tensor:
        raise NotImplementedError

    def _matrix(self, a: torch.Tensor) -> torch.Tensor:
        z = a.reshape(a.shape[0], -1) if a.ndim > 1 else a.reshape(-1, 1)
        return gather_rows(z) if self.gather else z

    def _zero(self) -> torch.Tensor:
        if self._like is None:
            return torch.zeros(())
        return torch.zeros((), dtype=self._like[0], device=self._like[1])

    def forward(self) -> torch.Tensor:
        if not self._handles:
            raise RuntimeError(f"{type(self).__name__} was removed: its hooks are off the model")
        acts, self._acts = self._acts, {}
        missing = [n for n in self.modules_names if n not in acts]
        if missing:
            raise RuntimeError(
                f"{type(self).__name__}: module(s) {', '.join(map(repr, missing))} did not run since "
                "the penalty was last called; run the model forward on the batch before calling it"
            )
        live = {n: a for n, a in acts.items() if a is not _SILENT}
        if not self.training or not live:
            return self._zero()
        lam = self.strength()
        self.strength.advance()
        if lam == 0.0:
            return self._zero()
        total = sum(self.value(self._matrix(a) if self.batch_statistic else a) for a in live.values())
        out = lam * total
        if out.device.type == "cpu" and not bool(torch.isfinite(out)):
            self._raise_non_finite(out, live)
        return out

    def _raise_non_finite(self, out: torch.Tensor, live: dict[str, Any]) -> None:
        for name, a in live.items():
            t = a[0] if isinstance(a, tuple) else a
            if not bool(torch.isfinite(t).all()):
                kind = "NaN" if bool(torch.isnan(t).any()) else "Inf"
                raise ValueError(
                    f"{type(self).__name__}: the activation of module {name!r} holds {kind}; "
                    "the model diverged or its input is not finite"
                )
        raise ValueError(
            f"{type(self).__name__} evaluated to {out.item()} although every activation is finite: "
            f"it overflowed {out.dtype}; lower the strength or compute in float64"
        )

    def extra_repr(self) -> str:
        return f"modules={list(self.modules_names)}, site={self.site.value}" + (
            "" if self._handles else ", removed"
        )
