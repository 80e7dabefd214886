"""Base classes of optimizer wrappers: a ``torch.optim.Optimizer`` around an inner optimizer.

The wrapper shares ``param_groups`` (the same list of the same dicts) with the inner optimizer,
so LR schedulers and ``add_param_group`` act on both; its own per-parameter state lives in
``self.state`` and both states are saved by ``state_dict()``. Hyperparameters of the wrapper
(``rho``, ``max_norm``, ...) are written into each group, as torch.optim does, so they can differ
per group and be changed by hand (``group["rho"] = 0.1``). A numeric hyperparameter may be a float
or a :class:`~reglab.schedules.Schedule`; a schedule is evaluated at the wrapper's step counter,
which advances once per ``step()`` and is saved in ``state_dict()``.

Nesting. Closure-evaluating wrappers (SAM, AMP, gradient-norm penalty) run the closure several
times and then take the inner step. A wrapper that rewrites the gradient or the weights just
before the inner step (clipping, ⊥Grad, decoupled decay) passes the closure through when one of
them is inside it, and its rewrite runs after their passes, on the gradient they finally step
with, right before the innermost step: ``ClipGradNorm(SAM(opt))`` steps like
``SAM(ClipGradNorm(opt))``. Two closure-evaluating wrappers cannot be nested.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import torch

from reglab._core.schedules import Schedule
from reglab._core.validation import check_number, check_strength

Action = Callable[[], None]


def check_hyper(name: str, value: object, *, low: float = 0.0, low_open: bool = False) -> float | Schedule:
    """A wrapper's numeric hyperparameter: a number (as a float) or a schedule, checked over its range."""
    if not isinstance(value, Schedule):
        return check_number(name, value, low=low, low_open=low_open)
    check_strength(name, value, low=low)
    if low_open and value.bounds()[0] <= low:
        raise ValueError(f"{name} must be > {low:g} at every step, got a schedule reaching {value.bounds()[0]:g}")
    return value


def as_float(value: float | Schedule) -> float | Schedule:
    """A number as a float (as group values were before schedules); a schedule as it is."""
    return value if isinstance(value, Schedule) else float(value)


def wrapped_chain(optimizer: torch.optim.Optimizer) -> list[torch.optim.Optimizer]:
    """``optimizer`` and the optimizers it wraps, outermost first."""
    chain = [optimizer]
    while isinstance(chain[-1], OptimizerWrapper):
        chain.append(chain[-1].optimizer)
    return chain


class OptimizerWrapper(torch.optim.Optimizer):
    """Wrap ``optimizer``; subclasses implement ``_step(closure, before)`` (or override ``step``).

    ``before`` holds the rewrites of outer wrappers, to run right before the innermost step.
    """

    #: True for wrappers that evaluate the closure themselves, several times a step (SAM, AMP, ...).
    evaluates_closure: ClassVar[bool] = False
    #: True for wrappers that step any inner optimizer with the closure they get (ProximalL1).
    forwards_closure: ClassVar[bool] = False

    def __init__(self, optimizer: torch.optim.Optimizer, defaults: dict[str, Any]) -> None:
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(
                f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}"
            )
        self._check_nesting(optimizer, defaults)
        self.optimizer = optimizer
        self._steps = 0
        # Optimizer.__init__ adds our defaults to the inner optimizer's group dicts in place.
        super().__init__(optimizer.param_groups, defaults)
        self.param_groups = optimizer.param_groups

    def _check_nesting(self, optimizer: torch.optim.Optimizer, defaults: dict[str, Any]) -> None:
        name = type(self).__name__
        for inner in wrapped_chain(optimizer):
            if not isinstance(inner, OptimizerWrapper):
                break
            if self.evaluates_closure and inner.evaluates_closure:
                raise ValueError(
                    f"{name} cannot wrap {type(inner).__name__}: both re-evaluate the loss through the "
                    "closure, so nesting them multiplies the forward-backward passes and mixes their "
                    "perturbations; use one"
                )
            shared = sorted(set(defaults) & set(inner.defaults))
            if shared:
                raise ValueError(
                    f"{name} cannot wrap {type(inner).__name__}: both keep {shared} in the shared "
                    "param_groups, so one would read the other's value"
                )

    # ----------------------------------------------------------------------------- step
    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None, *, before_inner_step: Sequence[Action] = ()) -> Any:
        """One step; returns the closure's loss (``None`` without a closure).

        ``before_inner_step`` is for outer wrappers: actions to run right before the innermost step.
        """
        loss = self._step(closure, tuple(before_inner_step))
        self._steps += 1
        return loss

    def _step(self, closure: Callable[[], Any] | None, before: tuple[Action, ...]) -> Any:
        raise NotImplementedError

    def _closure_below(self) -> bool:
        """True when a wrapper inside this one evaluates the closure itself."""
        return any(isinstance(o, OptimizerWrapper) and o.evaluates_closure
                   for o in wrapped_chain(self.optimizer))

    def _value(self, group: dict[str, Any], key: str) -> Any:
        """``group[key]`` at this step: a schedule is evaluated at the wrapper's step counter."""
        value = group[key]
        return value(self._steps) if isinstance(value, Schedule) else value

    def _shared_value(self, key: str, why: str) -> Any:
        """``key``'s value at this step, which must be the same in every param group (``why`` says why)."""
        values = [self._value(g, key) for g in self.param_groups]
        if any(v != values[0] for v in values[1:]):
            raise ValueError(
                f"{type(self).__name__} needs the same {key} in every param group ({why}), got {values}"
            )
        return values[0]

    # ----------------------------------------------------------------------------- groups, state
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group to the inner optimizer (its defaults) with the wrapper's defaults too."""
        if any(g is param_group for g in self.optimizer.param_groups):
            super().add_param_group(param_group)  # the inner groups, taken over in __init__
            return
        self.optimizer.add_param_group(param_group)
        for key, value in self.defaults.items():
            self.optimizer.param_groups[-1].setdefault(key, value)

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict[str, Any]:
        return {"inner": self.optimizer.state_dict(), "wrapper": super().state_dict(), "step": self._steps}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if not {"inner", "wrapper"} <= set(state_dict) <= {"inner", "wrapper", "step"}:
            raise ValueError(
                "state_dict must come from the same wrapper's state_dict() (keys 'inner' and "
                f"'wrapper', and 'step'), got keys {sorted(state_dict)}"
            )
        self.optimizer.load_state_dict(state_dict["inner"])
        super().load_state_dict(state_dict["wrapper"])
        self.param_groups = self.optimizer.param_groups
        self._steps = int(state_dict.get("step", 0))  # older checkpoints have no counter

    def _require_closure(self, closure: Callable[[], Any] | None, why: str = "") -> Callable[[], Any]:
        """The closure, with gradients enabled even inside a ``@torch.no_grad()`` step."""
        if closure is None:
            name = type(self).__name__
            raise ValueError(
                f"{name}.step needs a closure that zeroes the gradients, computes the loss, "
                f"calls backward() and returns the loss: {name.lower()}.step(closure){why}"
            )
        return torch.enable_grad()(closure)


class PreStepWrapper(OptimizerWrapper):
    """A wrapper that rewrites the gradient (or the weights) and then steps the inner optimizer.

    Subclasses implement ``_rewrite()``, acting in place on ``self.param_groups``. Without a
    closure-evaluating wrapper inside, ``step(closure)`` evaluates the closure once (if given),
    rewrites, and steps the inner optimizer; with one inside, it passes the closure down and the
    rewrite runs after that wrapper's passes, right before the innermost step.
    """

    def _rewrite(self) -> None:
        raise NotImplementedError

    def _step(self, closure: Callable[[], Any] | None, before: tuple[Action, ...]) -> Any:
        if self._closure_below():
            inner = next(type(o).__name__ for o in wrapped_chain(self.optimizer)
                         if isinstance(o, OptimizerWrapper) and o.evaluates_closure)
            closure = self._require_closure(closure, f" (the wrapped {inner} evaluates it)")
            return self.optimizer.step(closure, before_inner_step=(*before, self._rewrite))
        loss = None if closure is None else torch.enable_grad()(closure)()
        for action in before:
            action()
        self._rewrite()
        self.optimizer.step()
        return loss


class ClosureWrapper(OptimizerWrapper):
    """A wrapper that evaluates the closure itself (several passes) and then takes the inner step."""

    evaluates_closure = True

    def _inner_step(self, before: tuple[Action, ...]) -> None:
        """Run the outer wrappers' rewrites, then the inner step (after the passes, weights restored)."""
        for action in before:
            action()
        self.optimizer.step()
