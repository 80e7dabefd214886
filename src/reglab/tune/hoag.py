"""HOAG: hypergradient descent on log-strength with inexact inner solves whose tolerance shrinks.

Algorithm (Pedregosa 2016, Algorithm 1; θ = log λ, h the inner and g the outer loss)::

    for k = 1, 2, ...:
        w_k ≈ argmin_w h(w, θ_k)         until ‖∇_w h‖ ≤ ε_k ‖∇_w h(w_0, θ_0)‖   (L-BFGS, warm start)
        H q_k = ∇_w g(w_k)                to ‖residual‖ ≤ ε_k ‖∇_w g(w_1)‖      (CG, warm start)
        p_k = ∇_θ g − (∂²h/∂θ∂w) q_k                                            (approximate hypergradient)
        θ_{k+1} = clip(θ_k − p_k / L_k, low, high);   ε_{k+1} = decrease · ε_k   (summable errors)
        L: shrinks ×0.95 when g fell by the sufficient-decrease test with the ε terms,
           doubles when g rose; L_1 = ‖p_1‖ · #θ (or 1 when ‖p_1‖ <= 1e-3)

Arguments (constructor of ``HOAG``, keywords of ``hoag``):
    max_iter: outer iterations, an integer >= 1 (default 20); each costs one inner solve.
    tolerance: initial relative tolerance ε_1 in (0, 1) (default 1e-2).
    decrease: factor ε_{k+1}/ε_k in (0, 1) (default 0.9, the reference's "exponential").
    max_inner: L-BFGS iterations per inner solve at most, >= 1 (default 1000).
    low, high: bounds on θ = log λ (default -12 and 6).

Returns:
    ``HoagResult``: ``log_strength`` (tensor like ``hparams``), ``params`` (the last inner
    solution), ``outer`` (its validation loss), ``inner_solves`` (models fitted: iterations ×
    the problem's ``fits``), ``inner_iterations`` (L-BFGS iterations in all) and ``history``
    (θ_k, g_k) for each iteration. Everything is computed in float64.

Example:
    >>> import torch, reglab as rl
    >>> g = torch.Generator().manual_seed(0)
    >>> x, xv = torch.randn(40, 8, generator=g), torch.randn(40, 8, generator=g)
    >>> w = torch.randn(8, generator=g)
    >>> y, yv = x @ w + 2 * torch.randn(40, generator=g), xv @ w + 2 * torch.randn(40, generator=g)
    >>> result = rl.hoag(rl.tune.problems.ridge(x, y, xv, yv), max_iter=15)
    >>> result.inner_solves, result.outer < result.history[0][1]
    (15, True)

Reference:
    Fabian Pedregosa. Hyperparameter optimization with approximate gradient. ICML 2016.
    arXiv:1602.02355. Official code: github.com/fabianp/hoag.

Traps:
    - The inner tolerance is relative to the gradient norm at the very first start, as in the
      reference; torch's L-BFGS tests the largest gradient entry, so that is what ε bounds here.
    - HOAG descends the validation loss from where it starts: a non-convex g(θ) can hold it in
      a local minimum, and a flat g (λ far too small or large) gives tiny steps. Start near a
      sensible λ (e.g. scikit-learn's C = 1, λ = 1/n).
    - The log-strength is clipped to [low, high] like the reference's [-10, 6].
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from reglab._core.registry import Family, Kind, Paper, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.validation import check_int, check_number
from reglab.tune._implicit import implicit
from reglab.tune._linalg import MatVec, conjugate_gradient, flatten, unflatten
from reglab.tune.problems import BilevelProblem, ridge

HOAG_PAPER = Paper(
    authors="Fabian Pedregosa",
    title="Hyperparameter optimization with approximate gradient",
    year=2016,
    arxiv="1602.02355",
)
D = torch.float64


@dataclass
class HoagResult:
    log_strength: list[torch.Tensor]
    params: list[torch.Tensor]
    outer: float
    inner_solves: int
    inner_iterations: int
    history: list[tuple[list[float], float]] = field(default_factory=list)


def _lbfgs(w: list[torch.Tensor], max_inner: int) -> torch.optim.LBFGS:
    return torch.optim.LBFGS(w, lr=1.0, max_iter=max_inner, tolerance_change=1e-16,
                             history_size=10, line_search_fn="strong_wolfe")


def _inner_solve(problem: BilevelProblem, opt: torch.optim.LBFGS, w: list[torch.Tensor],
                 theta: list[torch.Tensor], tolerance: float) -> int:
    """Minimize h(·, θ) in place from ``w`` by L-BFGS until max |∇h| <= tolerance; iterations.

    The curvature memory is dropped first: pairs from another θ belong to another objective.
    """
    opt.state.clear()
    opt.param_groups[0]["tolerance_grad"] = tolerance

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = problem.inner_loss(w, theta)
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    return int(opt.state[w[0]].get("n_iter", 0))


class HOAG:
    """Holds HOAG's settings; ``HOAG(...)(problem)`` runs it on a ``BilevelProblem``."""

    def __init__(self, max_iter: int = 20, tolerance: float = 1e-2, decrease: float = 0.9,
                 max_inner: int = 1000, low: float = -12.0, high: float = 6.0) -> None:
        self.max_iter = check_int("max_iter", max_iter, low=1)
        self.tolerance = check_number("tolerance", tolerance, low=0, high=1, low_open=True,
                                      high_open=True)
        self.decrease = check_number("decrease", decrease, low=0, high=1, low_open=True,
                                     high_open=True)
        self.max_inner = check_int("max_inner", max_inner, low=1)
        self.low = check_number("low", low)
        self.high = check_number("high", high, low=self.low, low_open=True)

    def __call__(self, problem: BilevelProblem) -> HoagResult:
        if not isinstance(problem, BilevelProblem):
            raise TypeError(f"problem must be a BilevelProblem, got {type(problem).__name__}")
        w = [p.detach().to(D).clone().requires_grad_(True) for p in problem.params]
        theta = [h.detach().to(D).clone() for h in problem.hparams]
        with torch.enable_grad():
            grad0 = torch.autograd.grad(problem.inner_loss(w, theta), w, allow_unused=True)
        scale0 = max(float(g.abs().max()) for g in grad0 if g is not None)
        opt = _lbfgs(w, self.max_inner)
        eps, q, residual0 = self.tolerance, None, None
        lipschitz, g_old = None, math.inf
        solves = iterations = 0
        history: list[tuple[list[float], float]] = []
        outer = math.inf
        for _ in range(self.max_iter):
            iterations += _inner_solve(problem, opt, w, theta, eps * scale0)
            solves += problem.fits

            def solve(matvec: MatVec, b: torch.Tensor) -> torch.Tensor:
                nonlocal residual0
                residual0 = float(b.norm()) if residual0 is None else residual0
                x0 = q if q is not None and q.shape == b.shape else None
                return conjugate_gradient(matvec, b, x0=x0, tolerance=eps * residual0,
                                          max_iter=10 * b.numel(), absolute=True)[0]

            result = implicit(problem.inner_loss, problem.outer_loss, w, theta, solve)
            q, outer = result.q, float(result.outer)
            history.append(([float(v) for v in flatten(theta)], outer))
            eps_old, eps = eps, max(eps * self.decrease, 1e-12)
            grad = flatten(result.hypergradient)
            norm = float(grad.norm())
            if norm == 0 or not math.isfinite(norm):
                continue
            if lipschitz is None:
                lipschitz = norm * grad.numel() if norm > 1e-3 else 1.0
            old = flatten(theta)
            new = (old - grad / lipschitz).clamp(self.low, self.high)
            incr = float((new - old).norm())
            if outer - eps <= g_old + eps_old + eps_old * incr - 0.5 * lipschitz * incr**2:
                lipschitz *= 0.95
            elif outer > g_old:
                lipschitz *= 2.0
            g_old = outer
            if len(history) < self.max_iter:  # the last step would go unevaluated: do not take it
                theta = unflatten(new, theta)
        params = [p.detach() for p in w]
        return HoagResult(theta, params, outer, solves, iterations, history)

    def __repr__(self) -> str:
        return (f"HOAG(max_iter={self.max_iter}, tolerance={self.tolerance:g}, "
                f"decrease={self.decrease:g}, max_inner={self.max_inner}, low={self.low:g}, "
                f"high={self.high:g})")


def hoag(problem: BilevelProblem, *, max_iter: int = 20, tolerance: float = 1e-2,
         decrease: float = 0.9, max_inner: int = 1000, low: float = -12.0,
         high: float = 6.0) -> HoagResult:
    """Run HOAG on ``problem``; see the module docstring (``reglab.card("hoag")``)."""
    return HOAG(max_iter, tolerance, decrease, max_inner, low, high)(problem)


def _sample(ctx: SampleContext) -> Sample:
    x, y = ctx.x, ctx.logits[:, 0]
    return Sample(
        kwargs={"max_iter": 2, "max_inner": 20},
        inputs=(ridge(x, y, x.flip(0), y, log_strength=-1.0),),
        invalid=({"max_iter": 0}, {"tolerance": 1.5}, {"decrease": 0.0}, {"max_inner": 0},
                 {"low": 1.0, "high": 0.0}),
    )


register("hoag", family=Family.TUNING, kind=Kind.TUNER, paper=HOAG_PAPER, sample=_sample)(HOAG)

__all__ = ["HOAG", "HoagResult", "hoag"]
