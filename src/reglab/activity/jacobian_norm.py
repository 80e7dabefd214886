"""Jacobian regularization: the squared Frobenius norm of a module's input-output Jacobian.

Equation (Hoffman et al., sections 2-3)::

    J_i = ∂y_i / ∂x_i            (y = f(x): the hooked module's output and first input, per example)
    R = λ · ½ · (1/N) Σ_i ‖J_i‖²_F
    ‖J_i‖²_F ≈ (C / n) Σ_{k=1..n} ‖v_ikᵀ J_i‖²       v_ik uniform on the unit sphere of R^C

C is the number of output values per example. E[v vᵀ] = I / C, so the estimate is unbiased;
each projection costs one backward pass (``torch.autograd.grad`` with ``create_graph=True``).
``projections=-1`` computes the norm exactly with the C one-hot vectors.

Arguments:
    model: the ``nn.Module`` to hook.
    modules: a module name of ``model`` or a list of them; ``""`` is the model itself (the
        paper's input-to-logits Jacobian). A module's input that does not require grad (the
        data) is given ``requires_grad`` for the step.
    strength: λ >= 0, a float or a schedule (the paper's λ_JR, with its ½).
    projections: n >= 1 random projections per example, or -1 for the exact norm (1 by default,
        as in the paper).
    generator: a ``torch.Generator`` for the projections (saved in ``state_dict()``), or None
        for PyTorch's global generator.

Returns:
    ``forward()`` returns a scalar tensor in the activations' dtype; a zero in eval mode.

Example:
    >>> import torch, reglab as rl
    >>> lin = torch.nn.Linear(3, 2, dtype=torch.float64)
    >>> pen = rl.JacobianNorm(lin, modules="", strength=2.0, projections=-1)
    >>> _ = lin(torch.randn(4, 3, dtype=torch.float64))
    >>> bool(torch.isclose(pen(), lin.weight.square().sum()))     # λ·½·‖W‖²_F
    True

Reference:
    Judy Hoffman, Daniel A. Roberts, Sho Yaida. Robust Learning with Jacobian Regularization.
    2019. arXiv:1908.02729. The catalog lists it with: Christopher Scarvelis, Justin Solomon,
    Nuclear Norm Regularization for Deep Learning, NeurIPS 2024, arXiv:2405.14544, whose
    layer-split bound ½(‖J_g‖²_F + ‖J_h‖²_F) is this penalty on two modules (not built here).

Traps:
    - The per-example Jacobian is read from one backward pass over the batch, which is right only
      when the module treats examples independently: not with batch norm in training mode.
    - Each projection is a backward pass with ``create_graph=True``: the step costs about n + 1
      backward passes, and double backprop through the module.
    - The ½ and the 1/N: λ here is the paper's λ_JR; the estimate is averaged over examples.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from reglab._core.generator_state import GeneratorState
from reglab._core.registry import Family, Kind, Paper, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.schedules import Schedule
from reglab._core.validation import check_generator, check_int
from reglab.activity._base import ActivityPenalty

JACOBIAN_PAPER = Paper(
    authors="Judy Hoffman, Daniel A. Roberts, Sho Yaida",
    title="Robust Learning with Jacobian Regularization",
    year=2019,
    arxiv="1908.02729",
)


def jacobian_frobenius(
    x: torch.Tensor, y: torch.Tensor, projections: int = 1, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Σ_i ‖∂y_i/∂x_i‖²_F over the batch (exact for ``projections=-1``), keeping the graph."""
    n, c = y.shape[0], y[0].numel()
    flat = y.reshape(n, c)
    if projections == -1:
        eye = torch.eye(c, dtype=flat.dtype, device=flat.device)
        vs = (eye[j].expand(n, c) for j in range(c))
        scale = 1.0
    else:
        def draw() -> torch.Tensor:
            dev = generator.device if generator is not None else flat.device
            v = torch.randn(n, c, generator=generator, dtype=flat.dtype, device=dev).to(flat.device)
            return v / v.norm(dim=1, keepdim=True)

        vs = (draw() for _ in range(projections))
        scale = c / projections
    total = flat.new_zeros(())
    for v in vs:
        (g,) = torch.autograd.grad(flat, x, v, create_graph=True, retain_graph=True)
        total = total + g.square().sum()
    return scale * total


def _sample(ctx: SampleContext) -> Sample:
    return Sample(
        kwargs={"model": ctx.model, "modules": [""], "strength": 0.1, "projections": 2,
                "generator": torch.Generator().manual_seed(3)},
        inputs=(ctx.model, ctx.x),
        invalid=({"strength": -0.1}, {"modules": ["nope"]}, {"projections": 0},
                 {"projections": -2}, {"generator": 3}),
        identity={"strength": 0.0},
    )


@register(
    "jacobian-norm", family=Family.ACTIVITY, kind=Kind.ACTIVITY, paper=JACOBIAN_PAPER, sample=_sample,
)
class JacobianNorm(GeneratorState, ActivityPenalty):
    """λ · ½ mean_i ‖J_i‖²_F of hooked modules; see the module docstring (``reglab.card("jacobian-norm")``)."""

    def __init__(
        self,
        model: nn.Module,
        modules: str | Sequence[str],
        strength: float | Schedule = 0.01,
        *,
        projections: int = 1,
        generator: torch.Generator | None = None,
    ) -> None:
        projections = check_int("projections", projections, low=-1)
        if projections == 0:
            raise ValueError("projections must be >= 1, or -1 for the exact norm, got 0")
        generator = check_generator(generator)
        super().__init__(model, modules, strength)  # hooks go on last
        self.projections = projections
        self.generator = generator

    def _hook(self, ref: weakref.ref, name: str, module: nn.Module) -> list[Any]:
        def pre_hook(mod: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
            pen = ref()
            if (pen is None or not (mod.training and pen.training and torch.is_grad_enabled())
                    or not args or not isinstance(args[0], torch.Tensor) or args[0].requires_grad
                    or not args[0].is_floating_point()):
                return None
            return (args[0].detach().requires_grad_(True), *args[1:])

        return [module.register_forward_pre_hook(pre_hook), *super()._hook(ref, name, module)]

    def _capture(self, a: torch.Tensor, args: tuple[Any, ...], output: Any) -> Any:
        x = args[0] if args else None
        if not isinstance(x, torch.Tensor) or not x.requires_grad:
            raise TypeError(
                f"{type(self).__name__}: the hooked module's first input must be a floating tensor, "
                f"got {type(x).__name__}"
            )
        return (x, output)

    def value(self, xy: Any) -> torch.Tensor:
        x, y = xy
        return 0.5 * jacobian_frobenius(x, y, self.projections, self.generator) / y.shape[0]

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, projections={self.projections}"
