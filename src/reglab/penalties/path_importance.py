"""Path-integral importance: what each weight contributed to the loss decrease while it moved.

Equation (the element-wise importance of Song et al. 2025, Section 4.1, built on Synaptic
Intelligence, Zenke et al. 2017)::

    ω_i = Σ_t −g_i(t) · (θ_i(t+1) − θ_i(t))            summed over the steps of the general task
    Ω_i = max(ω_i, 0) / ((θ_i(T) − θ_i(0))² + ξ)

g(t) is the gradient the optimizer stepped with (``p.grad`` when the step is taken), θ(0) the
weights when recording starts and θ(T) when ``importance()`` is read. ω_i is a first-order
estimate of how much the loss fell because θ_i moved; dividing by the squared total displacement
turns it into a curvature-like weight, and ξ > 0 keeps the quotient finite for weights that did
not move.

Usage: build the recorder before training on the general (source) task, ``attach(optimizer)``,
train as usual, then pass ``recorder.importance()`` to ``WeightedAnchor(importance=...)`` with the
trained weights as anchors. It is a post-step hook: it reads ``p.grad`` after every
``optimizer.step()``, so do not zero the gradients between ``backward()`` and ``step()``.

Arguments:
    params: a selection, a module (its "weights" selection) or an iterable of tensors; the same
        selection as the ``WeightedAnchor`` it will feed.
    xi: ξ > 0, the damping of the denominator.

Returns:
    ``importance()`` returns a mapping from the selection's names to tensors Ω >= 0 shaped like
    the parameters; ``path_integral()`` returns the raw ω (either sign).

Example:
    >>> import torch, reglab as rl
    >>> net = torch.nn.Linear(2, 1, bias=False)
    >>> rec = rl.PathIntegralImportance(net, xi=0.1)
    >>> opt = torch.optim.SGD(net.parameters(), lr=0.5)
    >>> _ = rec.attach(opt)
    >>> net.weight.grad = torch.tensor([[1.0, -2.0]])
    >>> opt.step()                              # Δθ = −0.5·g, so ω = 0.5·g² = [0.5, 2.0]
    >>> [round(v, 6) for v in rec.importance()["weight"].flatten().tolist()]   # ω / (Δθ² + 0.1)
    [1.428571, 1.818182]

Reference:
    Shezheng Song, Hao Xu, Jun Ma, Shasha Li, Long Peng, Qian Wan, Xiaodong Liu, Jie Yu. How to
    Alleviate Catastrophic Forgetting in LLMs Finetuning? Hierarchical Layer-Wise and
    Element-Wise Regularization. 2025. arXiv:2501.13669.
    Friedemann Zenke, Ben Poole, Surya Ganguli. Continual Learning Through Synaptic Intelligence.
    ICML 2017. arXiv:1703.04200.

Readings (the paper's Section 4 text could not be opened here; see weighted_anchor's card):
    - max(ω, 0): ω can be negative for a weight whose moves raised the loss (noise, momentum);
      a negative importance would reward drifting, so it is clipped to zero (the count is in
      ``clipped()``). Synaptic Intelligence leaves the sign alone.
    - ξ has no default from the paper here; 1e-3 is a reading.

Traps:
    - Steps skipped by a gradient scaler (inf/nan) still run the hook; they move nothing, so
      they add nothing.
    - Weight decay inside the optimizer moves weights the loss gradient did not ask for; ω then
      counts −g·Δθ over that move too (as Synaptic Intelligence does).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from reglab._core.post_step import PostStepHook
from reglab._core.selection import Selection, as_selection
from reglab._core.validation import check_number

__all__ = ["PathIntegralImportance", "path_integral_importance"]


def path_integral_importance(
    omega: list[torch.Tensor], start: list[torch.Tensor], end: list[torch.Tensor], xi: float
) -> list[torch.Tensor]:
    """Ω = max(ω, 0) / ((θ_end − θ_start)² + ξ), tensor by tensor."""
    return [w.clamp_min(0) / ((e - s).square() + xi) for w, s, e in zip(omega, start, end)]


class PathIntegralImportance(PostStepHook):
    """Records ω = Σ −g·Δθ after every optimizer step; ``importance()`` gives Ω for ``WeightedAnchor``."""

    def __init__(
        self,
        params: Selection | nn.Module | Iterable[torch.Tensor],
        xi: float = 1e-3,
    ) -> None:
        super().__init__()
        self.selection = as_selection(params)
        self.xi = check_number("xi", xi, low=0.0, low_open=True)
        self._start = [p.detach().clone() for p in self.selection]
        self._last = [p.detach().clone() for p in self.selection]
        self._omega = [torch.zeros_like(p.detach()) for p in self.selection]
        self.steps = 0

    @torch.no_grad()
    def after_step(self, optimizer: torch.optim.Optimizer | None = None) -> None:
        """Add −g·(θ_now − θ_before) to ω; call it yourself after each step if not attached."""
        for p, last, w in zip(self.selection, self._last, self._omega):
            if p.grad is not None:
                w.sub_(p.grad.detach().to(w.dtype) * (p.detach() - last))
            last.copy_(p.detach())
        self.steps += 1

    def path_integral(self) -> dict[str, torch.Tensor]:
        """ω, the raw path integral, by parameter name."""
        return {n: w.clone() for n, w in zip(self.selection.names(), self._omega)}

    def clipped(self) -> int:
        """How many entries of ω are negative (set to zero in ``importance()``)."""
        return int(sum(int((w < 0).sum()) for w in self._omega))

    def importance(self) -> dict[str, torch.Tensor]:
        """Ω = max(ω, 0) / ((θ_now − θ_start)² + ξ), by parameter name."""
        end = [p.detach() for p in self.selection]
        omega = path_integral_importance(self._omega, self._start, end, self.xi)
        return dict(zip(self.selection.names(), omega))

    def state_dict(self) -> dict[str, Any]:
        return {"start": [t.clone() for t in self._start], "last": [t.clone() for t in self._last],
                "omega": [t.clone() for t in self._omega], "steps": self.steps}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        expected = {"start", "last", "omega", "steps"}
        if set(state_dict) != expected:
            raise ValueError(f"state_dict must have the keys {sorted(expected)}, got {sorted(state_dict)}")
        for key in ("start", "last", "omega"):
            given = state_dict[key]
            if len(given) != len(self.selection):
                raise ValueError(f"state_dict[{key!r}] holds {len(given)} tensors, params selects {len(self.selection)}")
            for (name, p), t in zip(self.selection.named, given):
                if tuple(t.shape) != tuple(p.shape):
                    raise ValueError(f"state_dict[{key!r}] for {name!r} has shape {tuple(t.shape)}, expected {tuple(p.shape)}")
        self._start = [t.detach().to(p.detach()).clone() for t, p in zip(state_dict["start"], self.selection)]
        self._last = [t.detach().to(p.detach()).clone() for t, p in zip(state_dict["last"], self.selection)]
        self._omega = [t.detach().to(p.detach()).clone() for t, p in zip(state_dict["omega"], self.selection)]
        self.steps = int(state_dict["steps"])

    def __repr__(self) -> str:
        return f"PathIntegralImportance(params={len(self.selection)}, xi={self.xi}, steps={self.steps})"
