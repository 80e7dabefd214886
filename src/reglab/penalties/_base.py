"""Shared plumbing of parameter penalties: selection, strength, step counter, zero-strength skip.

Non-finite parameters are refused twice: when the penalty is built (one fused reduction over the
selection) and, on CPU, whenever ``forward()`` produces a non-finite value; the error names the
first parameter holding NaN or Inf. On an accelerator the per-call check is skipped because it
would synchronise the device every step; call ``pen.selection.check_finite()`` yourself there.

Two ways to apply a penalty (the same gradient either way, tested equal in float64):

- as a loss term, the default: ``loss = task_loss + pen()``; autograd differentiates it;
- inside the optimizer step, opt-in: ``pen.attach(optimizer)`` adds λ·∇R(w) to the selected
  parameters' ``.grad`` before every ``optimizer.step()``, as the optimizer's own weight decay
  does, and ``pen()`` then returns the value detached, for logging only. L1, L2, elastic net,
  L2-init and L2-SP add a closed-form gradient (one or two in-place foreach ops, no value, no
  autograd node: a step costs what ``SGD(weight_decay=...)`` costs, issue 17); the others
  differentiate ``λ·R`` once per step with ``torch.autograd.grad``.

Where the two forms differ (each tested): attached, the gradient is added once per optimizer
step, so under gradient accumulation it counts once per window (as a loss term it counts once per
micro-batch that adds ``pen()``), and a strength schedule advances once per step (as a loss term,
once per training-mode call of ``pen()``: twice per SAM step). It is added after whatever was
done to the gradients before ``step()`` (clipping with ``torch.nn.utils.clip_grad_norm_``,
``GradScaler``'s unscaling; with a fused optimizer, which unscales inside its kernel, it is
scaled up to match), and before what the optimizer does inside ``step()``: reglab's wrappers
(``ClipGradNorm``, ``PerpGrad``, SAM) act on it as on the loss term's gradient.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from reglab._core.schedules import Schedule, Strength
from reglab._core.selection import Selection, as_selection
from reglab._core.step_hook import StepHook
from reglab._core.validation import check_strength


class ParameterPenalty(nn.Module):
    """Base class: ``forward()`` returns ``strength * value(params)`` as a scalar tensor.

    Subclasses implement ``value(params)`` with the pure function from ``reglab.functional``.
    The strength's step counter advances on each call in training mode; with zero strength at
    the current step the penalty returns a zero that adds nothing to any gradient.
    """

    def __init__(
        self,
        params: Selection | nn.Module | Iterable[torch.Tensor],
        strength: float | Schedule,
    ) -> None:
        super().__init__()
        self.selection = as_selection(params)
        try:
            self.selection.check_finite()
        except ValueError as err:
            raise ValueError(f"params must hold finite values: {err}") from None
        self.strength = Strength(check_strength("strength", strength))
        self._optimizer_hook = StepHook()  # attach(): wiring, not state (copies come out detached)

    def value(self, params: list[torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def scaled_value(self, params: list[torch.Tensor], lam: float) -> torch.Tensor:
        """``lam * value(params)``; a subclass may fold ``lam`` into its computation (speed)."""
        return lam * self.value(params)

    def add_gradient_(self, params: list[torch.Tensor], grads: list[torch.Tensor], lam: float) -> None:
        """``grads += ∇(lam·R)(params)`` in place. This default differentiates ``scaled_value``;
        penalties with a closed-form gradient override it (no value, no autograd node)."""
        with torch.enable_grad():
            out = self.scaled_value(params, lam)
        if out.device.type == "cpu" and not math.isfinite(out.item()):
            self._raise_non_finite(out)
        trained = [(p, g) for p, g in zip(params, grads) if p.requires_grad]
        parts = torch.autograd.grad(out, [p for p, _ in trained], allow_unused=True)
        used = [(g, d) for (_, g), d in zip(trained, parts) if d is not None]
        if used:
            torch._foreach_add_([g for g, _ in used], [d for _, d in used])

    def attach(self, optimizer: torch.optim.Optimizer) -> RemovableHandle:
        """Apply the penalty inside ``optimizer.step()`` instead of as a loss term.

        Before every step, λ·∇R(w) is added to the ``.grad`` of the selected parameters that
        require a gradient (a missing ``.grad`` starts at zero, as ``loss + pen()`` would give),
        and the strength's step counter advances (in training mode). When the step is given a
        closure (Lightning always passes one; LBFGS, SAM), the gradient is added after each
        evaluation of the closure and the value to the loss it returns; attach the penalty to the
        optimizer whose ``step`` you call (the wrapper, for ``reglab.SAM``). Do not add ``pen()`` to the
        loss as well: while attached it returns the value detached, evaluated as in eval mode
        (it changes no state: running estimates advance in the step). Every selected parameter
        must be one the optimizer updates. Attaching to the same optimizer twice keeps one hook;
        ``detach()`` or ``handle.remove()`` removes it. The hook is wiring, not state:
        ``state_dict()`` is unchanged, and a copy or a pickle of the penalty comes out detached.
        """
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
        stepped = {id(p) for group in optimizer.param_groups for p in group["params"]}
        missing = [name for name, p in self.selection.named if id(p) not in stepped]
        if missing:
            raise ValueError(
                f"optimizer does not update {len(missing)} of the {len(self.selection)} selected "
                f"parameters (first: {missing[0]!r}); attach the penalty to the optimizer that "
                "steps them, or select fewer parameters"
            )
        return self._optimizer_hook.attach(optimizer, lambda opt: opt.register_step_pre_hook(self._before_step))

    def detach(self) -> None:
        """Stop adding the gradient in the optimizer step; ``pen()`` is a loss term again."""
        self._optimizer_hook.detach()

    @property
    def attached(self) -> bool:
        """Whether the penalty is applied inside an optimizer's step (``attach``); False again once
        the hook is removed or that optimizer is gone."""
        return self._optimizer_hook.live

    def _detached_value(self, params: list[torch.Tensor], lam: float) -> torch.Tensor:
        """λ·R(w) without a graph and without side effects: evaluated in eval mode, so running
        estimates (spectral's power iteration) advance only in the optimizer step."""
        if lam == 0.0:
            return params[0].new_zeros(())
        training = self.training
        self.train(False)
        try:
            with torch.no_grad():
                return self.scaled_value(params, lam)
        finally:
            self.train(training)

    def _before_step(
        self, optimizer: torch.optim.Optimizer, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
        strength = self.strength
        lam = strength()
        if self.training:
            strength.advance()
        if lam == 0.0:
            return None
        grad_scale = getattr(optimizer, "grad_scale", None)
        if grad_scale is not None:  # a fused optimizer under GradScaler: gradients still scaled
            lam = lam * float(grad_scale)  # (one device sync per step on an accelerator)
        # args are step's positional arguments, the optimizer itself first: (self, closure)
        closure = kwargs.get("closure", args[1] if len(args) > 1 else None)
        if closure is None:
            self._add_gradient(lam)
            return None

        def closure_with_penalty() -> Any:
            # the closure recomputes the gradients (Lightning, LBFGS, SAM): add λ·∇R after each
            # evaluation, and λ·R to the loss it returns (line searches compare losses)
            loss = closure()
            self._add_gradient(lam)
            if isinstance(loss, torch.Tensor):
                loss = loss + self._detached_value(self.selection.params(), lam)
            return loss

        if "closure" in kwargs:
            return args, {**kwargs, "closure": closure_with_penalty}
        return (args[0], closure_with_penalty, *args[2:]), kwargs

    def _add_gradient(self, lam: float) -> None:
        """``.grad += λ·∇R(w)`` on the selected parameters that require a gradient."""
        params = self.selection.params()
        if any(p.grad is not None and p.grad.is_sparse for p in params):
            raise ValueError(f"{type(self).__name__}.attach does not support sparse gradients")
        grads = []
        for p in params:
            if not p.requires_grad:  # frozen: no gradient, as under autograd (a scratch target)
                grads.append(torch.zeros_like(p))
                continue
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            grads.append(p.grad)
        with torch.no_grad():
            self.add_gradient_(params, grads, lam)

    def forward(self) -> torch.Tensor:
        params = self.selection.params()
        strength = self.strength  # one submodule look-up (they cost a µs each)
        lam = strength()
        if self._optimizer_hook.live:  # attached: the step adds the gradient; a value to log
            return self._detached_value(params, lam)
        if self.training:
            strength.advance()
        if lam == 0.0:
            return torch.zeros((), dtype=params[0].dtype, device=params[0].device)
        out = self.scaled_value(params, lam)
        if out.device.type == "cpu" and not math.isfinite(out.item()):
            self._raise_non_finite(out)
        return out

    def _raise_non_finite(self, out: torch.Tensor) -> None:
        try:
            self.selection.check_finite()
        except ValueError as err:
            raise ValueError(f"{type(self).__name__}: {err}") from None
        raise ValueError(
            f"{type(self).__name__} evaluated to {out.item()} although every parameter is finite: "
            f"the penalty overflowed {out.dtype}; lower the strength or compute in float64"
        )

    def extra_repr(self) -> str:
        return f"params={len(self.selection)} tensors ({self.selection.numel()} values)"
