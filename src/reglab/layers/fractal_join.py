"""FractalJoin: FractalNet's join (mean of the incoming paths) with local drop-path.

Equation (per example n, for P incoming paths z_1..z_P)::

    m_kn ~ Bernoulli(1 − p_local), and if all m_·n = 0, one path k ~ Uniform{1..P} gets m_kn = 1
    join(z)_n = Σ_k m_kn z_kn / Σ_k m_kn

In evaluation (or at p_local = 0) the join is the plain mean of all paths. The kept paths are
averaged, not rescaled by 1/(1 − p): FractalNet's join is a mean over its active inputs.

Arguments:
    p_local: probability of dropping each incoming path, in [0, 1) (FractalNet uses 0.15).
    generator: optional ``torch.Generator``; its state is kept in ``state_dict()``.

Returns:
    ``forward(*paths)`` takes P >= 1 tensors of the same shape (batch first) and returns one of
    that shape, in their dtype.

Example:
    >>> import torch, reglab as rl
    >>> join = rl.FractalJoin(p_local=0.15)
    >>> a, b = torch.randn(4, 3), torch.randn(4, 3)
    >>> join(a, b).shape
    torch.Size([4, 3])
    >>> bool(torch.allclose(join.eval()(a, b), (a + b) / 2))
    True

Reference:
    Gustav Larsson, Michael Maire, Gregory Shakhnarovich. FractalNet: Ultra-Deep Neural Networks
    without Residuals. ICLR 2017. arXiv:1605.07648 (section 3.1, local drop-path).

Traps:
    - The paper does not say whether a join's drop pattern is drawn once per mini-batch or per
      example; this join draws it per example (a per-batch pattern is the special case of a
      batch of one), which lowers the gradient noise and keeps the expectation.
    - Global drop-path (keep a single column for the whole network, alternated with local
      drop-path per mini-batch) is a decision of the network, not of one join, and is not
      provided here: give the join only that column's path for such a batch.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from reglab._core.generator_state import GeneratorState
from reglab._core.registry import Family, Kind, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.validation import check_generator, check_probability
from reglab.layers._random import keep_mask
from reglab.layers.drop_path import FRACTALNET


def fractal_join(
    paths: Sequence[torch.Tensor],
    p_local: float,
    training: bool = True,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Mean of the kept paths per example (at least one kept); the plain mean in eval."""
    stacked = torch.stack(list(paths))  # (P, N, ...)
    count, batch = stacked.shape[0], stacked.shape[1]
    if not training or p_local == 0.0 or count == 1:
        return stacked.mean(0)
    keep = keep_mask((count, batch), 1.0 - p_local, stacked, generator)
    revive = torch.randint(count, (batch,), device=stacked.device, generator=generator)
    none_kept = (keep.sum(0) == 0).to(keep.dtype)
    keep = keep + torch.nn.functional.one_hot(revive, count).T.to(keep.dtype) * none_kept
    weights = (keep / keep.sum(0)).reshape(count, batch, *(1,) * (stacked.dim() - 2))
    return (stacked * weights).sum(0)


def _sample(ctx: SampleContext) -> Sample:
    return Sample(
        kwargs={"p_local": 0.5},
        inputs=(ctx.x, ctx.x.tanh(), 2 * ctx.x),
        invalid=({"p_local": 1.0}, {"p_local": -0.2}, {"generator": "seed"}),
        identity={"p_local": 0.0},
        reference=lambda *paths: torch.stack(paths).mean(0),
    )


@register("fractal-join", family=Family.LAYER, kind=Kind.LAYER, paper=FRACTALNET, sample=_sample)
class FractalJoin(GeneratorState, nn.Module):
    """Mean-join with local drop-path; see ``reglab.card("fractal-join")``."""

    def __init__(self, p_local: float = 0.15, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.p_local = check_probability("p_local", p_local, high_open=True)
        self.generator = check_generator(generator)

    def forward(self, *paths: torch.Tensor) -> torch.Tensor:
        if not paths:
            raise ValueError("FractalJoin needs at least one path")
        return fractal_join(paths, self.p_local, self.training, self.generator)

    def extra_repr(self) -> str:
        return f"p_local={self.p_local}"
