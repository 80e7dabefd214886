"""DropPath: drop a residual branch for whole examples, rescaling the kept ones by 1/(1 − p).

Equation (per example n of the batch)::

    DropPath(x)_n = x_n · m_n / (1 − p),     m_n ~ Bernoulli(1 − p)
    Residual(x)   = x + DropPath(block(x))

This is the per-sample form of FractalNet's drop-path used in residual networks (stochastic
depth). Evaluation is the identity. ``stochastic_depth_rates(p, depth)`` gives the linear rule
p_l = p · l / depth (l = 1..depth) of Huang et al. for a stack of ``depth`` blocks. FractalNet's
drop-path at a mean-join of several paths is ``reglab.FractalJoin``.

Arguments:
    p: probability of dropping the branch for an example, in [0, 1).
    generator: optional ``torch.Generator``; its state is kept in ``state_dict()``.
    ``Residual(block, drop_path=p)``: a residual block x + DropPath(block(x)); ``block`` maps a
        tensor to one of the same shape.

Returns:
    ``forward(x)`` returns a tensor shaped like x (batch first), in x's dtype.

Example:
    >>> import torch, reglab as rl
    >>> block = rl.Residual(torch.nn.Linear(6, 6), drop_path=0.2)
    >>> x = torch.randn(4, 6)
    >>> block(x).shape
    torch.Size([4, 6])
    >>> bool(torch.equal(rl.DropPath(0.3).eval()(x), x))
    True
    >>> rl.stochastic_depth_rates(0.5, depth=4)
    [0.125, 0.25, 0.375, 0.5]

Reference:
    Gustav Larsson, Michael Maire, Gregory Shakhnarovich. FractalNet: Ultra-Deep Neural Networks
    without Residuals. ICLR 2017. arXiv:1605.07648 (drop-path).
    Gao Huang, Yu Sun, Zhuang Liu, Daniel Sedra, Kilian Q. Weinberger. Deep Networks with
    Stochastic Depth. ECCV 2016. arXiv:1603.09382 (per-block drop, linear depth rule).

Traps:
    - Stochastic depth as published drops a block for the whole batch and scales by the survival
      probability at test time; this per-example, rescale-in-training form has the same
      expectation and needs no change at test time.
    - Wrap the branch only, never the skip connection: DropPath(x + block(x)) zeroes the input.
"""

from __future__ import annotations

import torch
from torch import nn

from reglab._core.generator_state import GeneratorState
from reglab._core.registry import Family, Kind, Paper, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.validation import check_generator, check_int, check_probability
from reglab.layers._random import keep_mask

FRACTALNET = Paper(
    authors="Gustav Larsson, Michael Maire, Gregory Shakhnarovich",
    title="FractalNet: Ultra-Deep Neural Networks without Residuals",
    year=2017,
    arxiv="1605.07648",
)


def drop_path(
    x: torch.Tensor, p: float, training: bool = True, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Zero whole examples (dim 0) with probability ``p``, scale the rest by 1/(1−p); x in eval."""
    if not training or p == 0.0:
        return x
    mask = keep_mask((x.shape[0],) + (1,) * (x.dim() - 1), 1.0 - p, x, generator)
    return x * mask / (1.0 - p)


def stochastic_depth_rates(p: float, depth: int) -> list[float]:
    """Drop rates p·l/depth for blocks l = 1..depth (the last block gets ``p``)."""
    p = check_probability("p", p, high_open=True)
    depth = check_int("depth", depth, low=1)
    return [p * (layer + 1) / depth for layer in range(depth)]


def _sample(ctx: SampleContext) -> Sample:
    return Sample(
        kwargs={"p": 0.5},
        inputs=(ctx.images,),
        invalid=({"p": 1.0}, {"p": -0.1}, {"p": "0.1"}, {"generator": 1}),
        identity={"p": 0.0},
        reference=lambda x: x,
    )


@register("drop-path", family=Family.LAYER, kind=Kind.LAYER, paper=FRACTALNET, sample=_sample)
class DropPath(GeneratorState, nn.Module):
    """Per-example branch dropping; see ``reglab.card("drop-path")``."""

    def __init__(self, p: float = 0.1, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.p = check_probability("p", p, high_open=True)
        self.generator = check_generator(generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return drop_path(x, self.p, self.training, self.generator)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Residual(nn.Module):
    """``x + DropPath(p)(block(x))``: a residual block whose branch is dropped per example."""

    def __init__(
        self, block: nn.Module, drop_path: float = 0.0, generator: torch.Generator | None = None
    ) -> None:
        super().__init__()
        if not isinstance(block, nn.Module):
            raise TypeError(f"block must be an nn.Module, got {type(block).__name__}")
        self.block = block
        p = check_probability("drop_path", drop_path, high_open=True)
        self.drop_path = DropPath(p, generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.drop_path(self.block(x))
