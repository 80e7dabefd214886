"""``Recipe``: several methods composed into one training step.

A recipe holds constructed methods: batch transforms, at most one loss, penalties (parameter and
activity), exactly one optimizer (plain, or a reglab wrapper around one) and post-step hooks.
``step(model, x, y)`` runs: transforms -> forward -> loss + penalties -> backward -> optimizer
step (through a closure when a wrapper needs one) -> post-step hooks. The benchmark, the
Lightning callback and the Hugging Face callback all train through it.

It refuses combinations that cannot work, with a message saying why: two optimizers, two
closure-evaluating wrappers nested, a wrapper that would step a closure-needing optimizer without
the closure, a target-changing transform before a loss that needs hard labels, two losses,
diagnostics or model surgery in the step. reglab's gradient rewrites (``ClipGradNorm``,
``PerpGrad``, ``DecoupledWeightDecay``, ``ProximalL1``) pass the closure through to a SAM, AMP
or gradient-norm penalty inside them.

>>> import torch, reglab as rl
>>> torch.manual_seed(0) and None
>>> model = torch.nn.Linear(4, 3)
>>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
>>> recipe = rl.Recipe([rl.L2(model, strength=1e-3), opt])
>>> x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
>>> loss = recipe.step(model, x, y)
>>> loss.shape
torch.Size([])

Trap: a method's step counter (for strength schedules) advances once per call in training mode,
so under a closure-evaluating wrapper such as SAM a penalty is called, and counts, twice a step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from reglab._core.outputs import SampleOutputs
from reglab._core.registry import Capabilities, Kind, entry_of

_NOT_IN_STEP = {
    Kind.METRIC: "it is a diagnostic; call it on the model or outputs outside the step",
    Kind.TUNER: "it chooses strengths around training; run it outside the step",
    Kind.LAYER: "it is part of the model; apply it to the model before building the recipe",
}


def _label(obj: object) -> str:
    entry = entry_of(obj)
    return repr(entry.name) if entry else type(obj).__name__


def _kind_and_caps(obj: object) -> tuple[Kind, Capabilities]:
    entry = entry_of(obj)
    if entry is not None:
        # An instance may declare capabilities that depend on its arguments (e.g. double backprop).
        caps = getattr(obj, "capabilities", None)
        return entry.kind, caps if isinstance(caps, Capabilities) else entry.capabilities
    if isinstance(obj, torch.optim.Optimizer):
        return Kind.OPTIMIZER, Capabilities()
    if isinstance(obj, nn.modules.loss._Loss):
        return Kind.LOSS, Capabilities()
    raise TypeError(
        f"Recipe cannot place {type(obj).__name__}: give registered reglab methods, one "
        "torch.optim.Optimizer (or a reglab wrapper of one) and optionally one loss module"
    )


def _optimizer_chain(optimizer: torch.optim.Optimizer) -> list[object]:
    """The optimizer and the optimizers it wraps (reglab wrappers expose ``.optimizer``)."""
    chain: list[object] = [optimizer]
    while isinstance(getattr(chain[-1], "optimizer", None), torch.optim.Optimizer):
        chain.append(chain[-1].optimizer)  # type: ignore[attr-defined]
    return chain


def _passes_closure(outer: list[object], inner: object) -> bool:
    """Whether the wrappers in ``outer`` hand the closure down to ``inner``.

    reglab's wrappers do when ``inner`` is one of reglab's closure-evaluating wrappers (SAM, AMP,
    gradient-norm penalty): an outer gradient rewrite then acts on the gradient ``inner`` finally
    steps with. Other optimizers are stepped without the closure, except by wrappers that always
    forward it (``ProximalL1``: it steps its inner optimizer with the closure).
    """
    reglab = bool(getattr(inner, "evaluates_closure", False))
    return all(getattr(o, "forwards_closure", False) or (reglab and hasattr(type(o), "evaluates_closure"))
               for o in outer)


class Recipe:
    """Compose methods for one training step; see the module docstring."""

    def __init__(self, methods: Sequence[object]) -> None:
        self.transforms: list[Callable[..., Any]] = []
        self.penalties: list[Callable[[], torch.Tensor]] = []
        self.post_steps: list[Any] = []
        self.task_listeners: list[Any] = []
        losses: list[tuple[object, Capabilities]] = []
        optimizers: list[torch.optim.Optimizer] = []
        changes_targets: list[object] = []
        for m in methods:
            kind, caps = _kind_and_caps(m)
            if kind in _NOT_IN_STEP:
                raise ValueError(f"Recipe cannot run {_label(m)} in the step: {_NOT_IN_STEP[kind]}")
            if caps.needs_task_boundary:
                self.task_listeners.append(m)
            if kind is Kind.TRANSFORM:
                self.transforms.append(m)  # type: ignore[arg-type]
                if caps.changes_targets:
                    changes_targets.append(m)
            elif kind in (Kind.PENALTY, Kind.ACTIVITY):
                self.penalties.append(m)  # type: ignore[arg-type]
            elif kind is Kind.LOSS:
                losses.append((m, caps))
            elif kind is Kind.OPTIMIZER:
                optimizers.append(m)  # type: ignore[arg-type]
            elif kind is Kind.POST_STEP:
                self.post_steps.append(m)
        self.optimizer = self._one_optimizer(optimizers)
        self.loss, loss_caps = self._one_loss(losses)
        if loss_caps.needs_hard_labels and changes_targets:
            raise ValueError(
                f"{_label(changes_targets[0])} turns labels into soft targets, but the loss "
                f"{_label(self.loss)} needs integer class labels; drop one of them"
            )
        self.needs_index = loss_caps.needs_sample_index
        chain_caps = [_kind_and_caps(o)[1] for o in _optimizer_chain(self.optimizer)]
        self.needs_closure = any(c.needs_closure for c in chain_caps)
        self.create_graph = any(c.needs_create_graph for c in chain_caps) or any(
            _kind_and_caps(p)[1].needs_create_graph for p in self.penalties
        )
        for hook in self.post_steps:
            hook.attach(self.optimizer)

    @staticmethod
    def _one_optimizer(optimizers: list[torch.optim.Optimizer]) -> torch.optim.Optimizer:
        if not optimizers:
            raise ValueError("Recipe needs one optimizer (a torch.optim.Optimizer or a reglab wrapper)")
        if len(optimizers) > 1:
            names = ", ".join(_label(o) for o in optimizers)
            raise ValueError(f"Recipe got {len(optimizers)} optimizers ({names}); wrap one in the other")
        chain = _optimizer_chain(optimizers[0])
        closures = [o for o in chain if _kind_and_caps(o)[1].needs_closure]
        if len(closures) > 1:
            names = " and ".join(_label(o) for o in closures)
            raise ValueError(
                f"{names} both re-evaluate the loss through the closure, so nesting them "
                "multiplies the forward-backward passes and mixes their perturbations; use one"
            )
        for depth, inner in enumerate(chain[1:], start=1):
            if closures and inner is closures[0] and not _passes_closure(chain[:depth], inner):
                raise ValueError(
                    f"{_label(chain[depth - 1])} steps {_label(inner)} without passing it the closure "
                    f"that {_label(inner)} needs; make {_label(inner)} the outermost optimizer"
                )
        return optimizers[0]

    @staticmethod
    def _one_loss(losses: list[tuple[object, Capabilities]]) -> tuple[Any, Capabilities]:
        if len(losses) > 1:
            names = ", ".join(_label(m) for m, _ in losses)
            raise ValueError(f"Recipe got {len(losses)} losses ({names}); give at most one")
        if not losses:
            return nn.CrossEntropyLoss(), Capabilities()  # accepts class indices or soft targets
        return losses[0]

    def step(
        self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, index: torch.Tensor | None = None
    ) -> torch.Tensor:
        """One training step on the batch ``(x, y)``; returns the detached loss.

        ``index`` (positions of the examples in the training set) is required when the loss
        keeps per-example state (ELR, PS-KD).
        """
        if self.needs_index and index is None:
            raise ValueError(f"the loss {_label(self.loss)} needs the batch's sample indices: step(..., index=idx)")
        for transform in self.transforms:
            x, y = transform(x, y)

        def closure() -> torch.Tensor:
            self.optimizer.zero_grad()
            out = model(x)
            args = (y, index) if self.needs_index else (y,)
            if isinstance(out, SampleOutputs):  # multi-sample layers: mean of per-sample losses
                loss = out.mean_loss(self.loss, *args)
            else:
                loss = self.loss(out, *args)
            for penalty in self.penalties:
                loss = loss + penalty()
            loss.backward(create_graph=self.create_graph)
            return loss

        if self.needs_closure:
            loss = self.optimizer.step(closure)
        else:
            loss = closure()
            self.optimizer.step()
        return loss.detach()

    def end_task(self) -> None:
        """Tell the methods that need task boundaries (continual learning) that a task ended."""
        for m in self.task_listeners:
            m.end_task()

    def __repr__(self) -> str:
        parts = [*self.transforms, self.loss, *self.penalties, self.optimizer, *self.post_steps]
        return "Recipe([" + ", ".join(_label(p) for p in parts) + "])"
