"""Implicit hypergradient: d outer / d hyperparameters at an inner optimum (implicit function theorem).

Equation (Lorraine, Vicol & Duvenaud, eq. 4; w* = argmin_w L_T(w, λ), so ∂L_T/∂w (w*, λ) = 0)::

    dL_V/dλ = ∂L_V/∂λ − (∂²L_T/∂λ∂wᵀ) q,      H q = ∂L_V/∂w,   H = ∂²L_T/∂w∂wᵀ  at (w*, λ)

The inverse-Hessian-vector product q is computed by one of three solvers (``Solver``):

- ``EXACT``: H formed from n Hessian-vector products and solved densely (small problems only);
- ``CG``: conjugate gradient on Hessian-vector products, to a relative residual ``tolerance``;
- ``NEUMANN``: the paper's truncated Neumann series (Algorithm 3)
  q ≈ α Σ_{j=0..i} (I − αH)^j ∂L_V/∂w, with i = ``terms`` and α = ``step``; its error is
  (I − αH)^{i+1} H⁻¹ ∂L_V/∂w, which vanishes as i grows when 0 < α < 2/λ_max(H).

Arguments:
    inner_loss: ``(params, hparams) -> scalar``, the training objective L_T (with its penalty).
    outer_loss: ``(params, hparams) -> scalar``, the validation objective L_V.
    params: list of tensors, an inner optimum w* (e.g. ``list(model.parameters())`` after
        training; use ``torch.func.functional_call`` inside the losses for a module).
    hparams: list of tensors λ, any shapes, 0-dim (scalar) tensors included.
    solver: a ``Solver`` or its name (default ``"cg"``).
    terms: Neumann iterations i, an integer >= 0 (default 20).
    step: Neumann step α > 0 (default 0.1); must be below 2/λ_max(H).
    tolerance: CG relative residual, > 0 (default 1e-10).
    max_iter: CG iterations at most, an integer >= 1 (default 1000).

Returns:
    A list of detached tensors shaped like ``hparams``, in their dtype: a hyperparameter that
    neither loss uses gets zeros; parameters that the inner loss does not use are left out of
    the solve (they do not move with λ), so nothing is misaligned.

Example:
    >>> import torch, reglab as rl
    >>> x = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]], dtype=torch.float64)
    >>> y = torch.tensor([1.0, 2.0, 0.0], dtype=torch.float64)
    >>> inner = lambda p, h: 0.5 * ((x @ p[0] - y) ** 2).sum() + 0.5 * h[0] * (p[0] ** 2).sum()
    >>> outer = lambda p, h: 0.5 * ((x @ p[0] - 1.0) ** 2).sum()
    >>> lam = torch.tensor(0.3, dtype=torch.float64)                  # a scalar hyperparameter
    >>> w = torch.linalg.solve(x.T @ x + lam * torch.eye(2, dtype=torch.float64), x.T @ y)
    >>> cg = rl.hypergradient(inner, outer, [w], [lam], solver="cg")
    >>> exact = rl.hypergradient(inner, outer, [w], [lam], solver=rl.Solver.EXACT)
    >>> cg[0].shape, bool(torch.allclose(cg[0], exact[0]))
    (torch.Size([]), True)

Reference:
    Jonathan Lorraine, Paul Vicol, David Duvenaud. Optimizing Millions of Hyperparameters by
    Implicit Differentiation. AISTATS 2020. arXiv:1911.02590.

Traps:
    - ``params`` must be (close to) an inner optimum: the formula assumes ∂L_T/∂w = 0 there.
      Away from it the result is the gradient of a different problem.
    - The authors' helper drops the ``None`` gradients of unused parameters when it flattens them,
      which shifts every later block of the vector; here unused parameters get zeros instead.
    - Neumann with a step above 2/λ_max(H) diverges; with H not positive definite (a saddle or
      an unregularized direction) no solver is reliable. Scale ``step`` to the Hessian.
    - The hypergradient is with respect to λ as the losses see it; tune log λ by passing log λ
      and exponentiating inside the loss.
"""

from __future__ import annotations

from enum import Enum

import torch

from reglab._core.registry import Family, Kind, Paper, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.validation import check_choice, check_int, check_number
from reglab.tune._implicit import Loss, check_loss, check_tensors, implicit
from reglab.tune._linalg import MatVec, conjugate_gradient, dense_solve, neumann

IMPLICIT_DIFFERENTIATION = Paper(
    authors="Jonathan Lorraine, Paul Vicol, David Duvenaud",
    title="Optimizing Millions of Hyperparameters by Implicit Differentiation",
    year=2020,
    arxiv="1911.02590",
)


class Solver(Enum):
    """How the inverse-Hessian-vector product H⁻¹ ∂L_V/∂w is computed."""

    EXACT = "exact"
    CG = "cg"
    NEUMANN = "neumann"


class Hypergradient:
    """Holds a solver and its settings; ``hg(inner_loss, outer_loss, params, hparams)``."""

    def __init__(
        self,
        solver: Solver | str = Solver.CG,
        terms: int = 20,
        step: float = 0.1,
        tolerance: float = 1e-10,
        max_iter: int = 1000,
    ) -> None:
        self.solver = check_choice("solver", solver, Solver)
        self.terms = check_int("terms", terms, low=0)
        self.step = check_number("step", step, low=0, low_open=True)
        self.tolerance = check_number("tolerance", tolerance, low=0, low_open=True)
        self.max_iter = check_int("max_iter", max_iter, low=1)

    def _solve(self, matvec: MatVec, b: torch.Tensor) -> torch.Tensor:
        if self.solver is Solver.EXACT:
            return dense_solve(matvec, b)
        if self.solver is Solver.NEUMANN:
            return neumann(matvec, b, terms=self.terms, step=self.step)
        return conjugate_gradient(matvec, b, tolerance=self.tolerance, max_iter=self.max_iter)[0]

    def __call__(
        self,
        inner_loss: Loss,
        outer_loss: Loss,
        params: list[torch.Tensor],
        hparams: list[torch.Tensor],
    ) -> list[torch.Tensor]:
        inner_loss = check_loss("inner_loss", inner_loss)
        outer_loss = check_loss("outer_loss", outer_loss)
        params = check_tensors("params", params)
        hparams = check_tensors("hparams", hparams)
        result = implicit(inner_loss, outer_loss, params, hparams, self._solve)
        return [g.to(h.dtype) for g, h in zip(result.hypergradient, hparams)]

    def __repr__(self) -> str:
        return (f"Hypergradient(solver={self.solver.value}, terms={self.terms}, step={self.step:g}, "
                f"tolerance={self.tolerance:g}, max_iter={self.max_iter})")


def hypergradient(
    inner_loss: Loss,
    outer_loss: Loss,
    params: list[torch.Tensor],
    hparams: list[torch.Tensor],
    solver: Solver | str = Solver.CG,
    *,
    terms: int = 20,
    step: float = 0.1,
    tolerance: float = 1e-10,
    max_iter: int = 1000,
) -> list[torch.Tensor]:
    """d outer / d hparams at an inner optimum; see the module docstring (``reglab.card``)."""
    hg = Hypergradient(solver, terms=terms, step=step, tolerance=tolerance, max_iter=max_iter)
    return hg(inner_loss, outer_loss, params, hparams)


def _ridge_losses(x: torch.Tensor, y: torch.Tensor) -> tuple[Loss, Loss]:
    def inner(p: list[torch.Tensor], h: list[torch.Tensor]) -> torch.Tensor:
        return 0.5 * ((x @ p[0] - y) ** 2).mean() + 0.5 * h[0] * (p[0] ** 2).sum()

    def outer(p: list[torch.Tensor], h: list[torch.Tensor]) -> torch.Tensor:
        return 0.5 * ((x @ p[0] - y.flip(0)) ** 2).mean()

    return inner, outer


def _sample(ctx: SampleContext) -> Sample:
    x, y = ctx.x, ctx.logits[:, 0]
    lam = torch.tensor(0.5, dtype=ctx.dtype)
    eye = torch.eye(x.shape[1], dtype=ctx.dtype)
    w = torch.linalg.solve(x.T @ x / len(x) + lam * eye, x.T @ y / len(x))
    inner, outer = _ridge_losses(x, y)
    return Sample(
        kwargs={"solver": "cg", "terms": 5},
        inputs=(inner, outer, [w], [lam]),
        invalid=({"solver": "newton"}, {"terms": -1}, {"step": 0.0}, {"tolerance": -1.0},
                 {"max_iter": 0}),
    )


register(
    "hypergradient",
    family=Family.TUNING,
    kind=Kind.TUNER,
    paper=IMPLICIT_DIFFERENTIATION,
    sample=_sample,
)(Hypergradient)

__all__ = ["Hypergradient", "Solver", "hypergradient"]
