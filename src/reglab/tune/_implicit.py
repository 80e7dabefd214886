"""The implicit-function-theorem hypergradient, given a solver for H q = b (shared by HOAG)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from reglab.tune._linalg import MatVec, flatten, unflatten

Loss = Callable[[list[torch.Tensor], list[torch.Tensor]], torch.Tensor]
Solve = Callable[[MatVec, torch.Tensor], torch.Tensor]


@dataclass
class Implicit:
    """A hypergradient with what produced it: the outer value and the solution q of H q = ∇_w outer."""

    hypergradient: list[torch.Tensor]
    outer: torch.Tensor
    q: torch.Tensor


def check_tensors(name: str, value: object) -> list[torch.Tensor]:
    """A non-empty list or tuple of floating-point tensors, or an error naming ``name``."""
    if isinstance(value, torch.Tensor) or not isinstance(value, Sequence) or not value:
        raise TypeError(f"{name} must be a non-empty list of tensors, got {type(value).__name__}")
    for i, t in enumerate(value):
        if not isinstance(t, torch.Tensor) or not t.is_floating_point():
            raise TypeError(f"{name}[{i}] must be a floating-point tensor, got {t!r:.60}")
    return list(value)


def check_loss(name: str, value: object) -> Loss:
    if not callable(value):
        raise TypeError(f"{name} must be callable (params, hparams) -> scalar, got {type(value).__name__}")
    return value  # type: ignore[return-value]


def _scalar(name: str, out: object) -> torch.Tensor:
    if not isinstance(out, torch.Tensor) or out.ndim != 0:
        raise ValueError(f"{name} must return a scalar tensor, got {type(out).__name__}"
                         + (f" of shape {tuple(out.shape)}" if isinstance(out, torch.Tensor) else ""))
    return out


def _grads(out: torch.Tensor, wrt: list[torch.Tensor], **kw: bool) -> list[torch.Tensor | None]:
    if not out.requires_grad:
        return [None] * len(wrt)
    return list(torch.autograd.grad(out, wrt, allow_unused=True, **kw))


def _zeros_for_none(grads: list[torch.Tensor | None], like: list[torch.Tensor]) -> list[torch.Tensor]:
    return [torch.zeros_like(t) if g is None else g.detach() for g, t in zip(grads, like)]


def implicit(
    inner_loss: Loss,
    outer_loss: Loss,
    params: list[torch.Tensor],
    hparams: list[torch.Tensor],
    solve: Solve,
) -> Implicit:
    """d outer / d hparams = ∂_λ outer − (∂²inner/∂λ∂w) q, where H q = ∂_w outer, H = ∂²inner/∂w².

    ``params`` should be an inner optimum. Parameters the inner loss does not use are left out of
    the solve (their q is zero); gradients that do not exist are zeros of the right shape.
    """
    w = [p.detach().requires_grad_(True) for p in params]
    lam = [h.detach().requires_grad_(True) for h in hparams]
    with torch.enable_grad():
        outer = _scalar("outer_loss", outer_loss(w, lam))
        d_outer = _zeros_for_none(_grads(outer, w + lam), w + lam)
        d_outer_w, direct = d_outer[: len(w)], d_outer[len(w):]
        inner = _scalar("inner_loss", inner_loss(w, lam))
        g_inner = _grads(inner, w, create_graph=True)
        used = [i for i, g in enumerate(g_inner) if g is not None and g.requires_grad]
        if not used:  # the inner optimum does not move with λ
            return Implicit(direct, outer.detach(), torch.zeros(0, dtype=w[0].dtype))
        w_used = [w[i] for i in used]
        g_used = [g_inner[i] for i in used]  # type: ignore[misc]

        def matvec(v: torch.Tensor) -> torch.Tensor:
            dot = sum((g * u).sum() for g, u in zip(g_used, unflatten(v, w_used)))
            hv = torch.autograd.grad(dot, w_used, retain_graph=True, allow_unused=True)
            return flatten(_zeros_for_none(list(hv), w_used))

        q = solve(matvec, flatten([d_outer_w[i] for i in used]))
        dot = sum((g * u).sum() for g, u in zip(g_used, unflatten(q.detach(), w_used)))
        cross = _zeros_for_none(_grads(dot, lam), lam)  # type: ignore[arg-type]
    return Implicit([d - c for d, c in zip(direct, cross)], outer.detach(), q.detach())
