"""Inverse-Hessian-vector products for implicit differentiation: dense, CG and Neumann series.

Everything here works on flat vectors; ``matvec`` is ``v -> H v`` (a Hessian-vector product).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

MatVec = Callable[[torch.Tensor], torch.Tensor]


def flatten(tensors: list[torch.Tensor]) -> torch.Tensor:
    """Concatenate tensors (any shape, 0-dim included) into one vector."""
    return torch.cat([t.reshape(-1) for t in tensors])


def unflatten(vector: torch.Tensor, like: list[torch.Tensor]) -> list[torch.Tensor]:
    """Split ``vector`` into tensors shaped like ``like`` (0-dim tensors stay 0-dim)."""
    out, start = [], 0
    for t in like:
        out.append(vector[start:start + t.numel()].reshape(t.shape))
        start += t.numel()
    return out


def dense_solve(matvec: MatVec, b: torch.Tensor) -> torch.Tensor:
    """Solve H x = b by forming H column by column (n products) and a dense solve."""
    eye = torch.eye(b.numel(), dtype=b.dtype, device=b.device)
    hessian = torch.stack([matvec(e) for e in eye], dim=1)
    hessian = 0.5 * (hessian + hessian.T)  # symmetric up to rounding
    return torch.linalg.solve(hessian, b)


def conjugate_gradient(
    matvec: MatVec,
    b: torch.Tensor,
    *,
    x0: torch.Tensor | None = None,
    tolerance: float = 1e-10,
    max_iter: int = 1000,
    absolute: bool = False,
) -> tuple[torch.Tensor, int]:
    """Conjugate gradient for H x = b (H symmetric positive definite); returns (x, products).

    Stops when ``‖b − H x‖ <= tolerance`` (times ``‖b‖`` unless ``absolute``).
    """
    x = torch.zeros_like(b) if x0 is None else x0.clone()
    r = b - matvec(x) if x0 is not None else b.clone()
    products = int(x0 is not None)
    target = tolerance * (1.0 if absolute else float(b.norm()))
    p = r.clone()
    rr = r @ r
    for _ in range(max_iter):
        if float(rr.sqrt()) <= target:
            break
        hp = matvec(p)
        products += 1
        curvature = p @ hp
        if float(curvature) <= 0:  # not positive definite along p: stop with what we have
            break
        alpha = rr / curvature
        x = x + alpha * p
        r = r - alpha * hp
        rr_new = r @ r
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x, products


def neumann(matvec: MatVec, b: torch.Tensor, *, terms: int, step: float) -> torch.Tensor:
    """Lorraine et al.'s truncated Neumann series: ``step · Σ_{j=0..terms} (I − step·H)^j b``.

    Converges to H⁻¹ b when 0 < step < 2 / λ_max(H) and H is positive definite; the error after
    ``terms`` iterations is ``(I − step·H)^(terms+1) H⁻¹ b``.
    """
    current = b.clone()
    total = b.clone()
    for _ in range(terms):
        current = current - step * matvec(current)
        total = total + current
    return step * total
