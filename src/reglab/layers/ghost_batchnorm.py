"""Ghost batch normalization: batch-norm statistics per ghost batch of G examples, not per batch.

Equation (Hoffer et al. 2017, Algorithm 1), for a batch split into L = ⌈N/G⌉ ghost batches X¹..X^L::

    μ_l, σ²_l = mean and (biased) variance of X^l over its examples (and spatial positions)
    y = γ (X^l − μ_l) / √(σ²_l + ε) + β                   for every example of X^l
    running ← (1 − η) running + η stat_l                  once per ghost batch, l = 1..L, i.e.
    μ_run ← (1 − η)^L μ_run + Σ_l η (1 − η)^{L−l} μ_l      (likewise the variance)

In eval mode the layer is a plain batch norm with the running statistics. Training with large
batches and small ghost batches keeps the noise of small-batch statistics, which the paper finds
closes part of the large-batch generalization gap (the rest: more updates, "regime adaptation").

Arguments:
    num_features: C >= 1, the channel dimension (dim 1 of inputs (N, C, *)).
    ghost_batch_size: G >= 1 examples per ghost batch (the paper uses 32; 128 for ImageNet).
    eps, momentum, affine, track_running_stats, device, dtype: as in ``nn.BatchNorm1d``;
        momentum η in [0, 1] is applied once per ghost batch.
    (``apply_ghost_batchnorm``) model: every ``nn.BatchNorm1d/2d/3d`` in it is replaced by a
        ``GhostBatchNorm`` sharing its parameters and buffers.

Returns:
    ``forward(x)``: x (N, C, *) normalized, same shape and dtype; ``apply_ghost_batchnorm`` the
    model, changed in place (the new layer when the model is itself a batch norm).
    ``reglab.functional.ghost_batch_norm`` is the pure function.

Example:
    >>> import torch, reglab as rl
    >>> model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8))
    >>> model = rl.apply_ghost_batchnorm(model, ghost_batch_size=16)
    >>> type(model[1]).__name__, model[1].ghost_batch_size
    ('GhostBatchNorm', 16)
    >>> model(torch.randn(64, 4)).shape                      # 4 ghost batches of 16
    torch.Size([64, 8])

Reference:
    Elad Hoffer, Itay Hubara, Daniel Soudry. Train longer, generalize better: closing the
    generalization gap in large batch training of neural networks. NeurIPS 2017.
    arXiv:1705.08741.

Traps:
    - Ghost batches are consecutive slices of the batch: shuffle the data, or a ghost batch may
      hold one class. When G does not divide N the L ghost batches are balanced (sizes differ by
      at most one, larger first) rather than leaving a small remainder (our reading; the paper
      assumes G divides N). A ghost batch with one value per channel raises, as BatchNorm does.
    - The running variance is the unbiased one (PyTorch's convention) and
      ``num_batches_tracked`` counts ghost batches, so the layer equals ``nn.BatchNorm`` applied
      ghost batch by ghost batch; the paper's Algorithm 1 keeps a running σ instead.
    - momentum=None (cumulative average) is not supported.
    - Under DDP each process splits its own batch; ghost statistics are never synchronized.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from reglab._core.registry import Family, Kind, Paper, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.validation import check_bool, check_int, check_number

TRAIN_LONGER = Paper(
    authors="Elad Hoffer, Itay Hubara, Daniel Soudry",
    title="Train longer, generalize better: closing the generalization gap in large batch "
    "training of neural networks",
    year=2017,
    arxiv="1705.08741",
)


def ghost_sizes(n: int, ghost_batch_size: int) -> list[int]:
    """Sizes of the ⌈n/G⌉ balanced ghost batches of a batch of n (larger ones first)."""
    count = max(1, math.ceil(n / ghost_batch_size))
    q, r = divmod(n, count)
    return [q + 1] * r + [q] * (count - r)


def _chunk_stats(x: torch.Tensor, count: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """x (count·g, C, *) as (count, g, C, *) with per-chunk mean and biased variance (count, C)."""
    xs = x.reshape(count, x.shape[0] // count, *x.shape[1:])
    dims = [1, *range(3, xs.dim())]
    var, mean = torch.var_mean(xs, dim=dims, correction=0)
    return xs, mean, var


def ghost_batch_norm(
    x: torch.Tensor,
    ghost_batch_size: int,
    running_mean: torch.Tensor | None = None,
    running_var: torch.Tensor | None = None,
    weight: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> torch.Tensor:
    """Batch norm in training mode with statistics per ghost batch; updates the running stats in place.

    x (N, C, *); running statistics (C,) or None (not tracked); weight, bias (C,) or None.
    """
    n, c = x.shape[0], x.shape[1]
    per_value = math.prod(x.shape[2:])
    sizes = ghost_sizes(n, ghost_batch_size)
    if sizes[-1] * per_value < 2:
        raise ValueError(
            f"ghost batches of {sizes[-1]} example(s) give one value per channel (batch {n}, "
            f"ghost_batch_size {ghost_batch_size}); use a larger batch or ghost_batch_size"
        )
    outs, means, variances, counts = [], [], [], []
    start = 0
    for size in sorted(set(sizes), reverse=True):  # at most two sizes: one vectorized pass each
        k = sizes.count(size)
        xs, mean, var = _chunk_stats(x[start:start + k * size], k)
        shape = (k, 1, c) + (1,) * (x.dim() - 2)
        outs.append(((xs - mean.view(shape)) * torch.rsqrt(var.view(shape) + eps)).flatten(0, 1))
        means.append(mean)
        variances.append(var)
        counts += [size * per_value] * k
        start += k * size
    y = torch.cat(outs) if len(outs) > 1 else outs[0]
    if weight is not None:
        affine = (c,) + (1,) * (x.dim() - 2)
        y = y * weight.view(affine) + bias.view(affine)  # type: ignore[union-attr]
    if running_mean is not None and running_var is not None:
        with torch.no_grad():
            mean, var = torch.cat(means).detach(), torch.cat(variances).detach()
            m = torch.tensor(counts, dtype=var.dtype, device=var.device).unsqueeze(1)
            unbiased = var * m / (m - 1)
            steps = len(sizes)
            decay = (1.0 - momentum) ** torch.arange(
                steps - 1, -1, -1, dtype=torch.float64, device=var.device
            )
            w = (momentum * decay).to(var.dtype).unsqueeze(1)  # η (1 − η)^{L−l}
            keep = (1.0 - momentum) ** steps
            running_mean.mul_(keep).add_((w * mean).sum(0).to(running_mean.dtype))
            running_var.mul_(keep).add_((w * unbiased).sum(0).to(running_var.dtype))
    return y


def _sample(ctx: SampleContext) -> Sample:
    def reference(x: torch.Tensor) -> torch.Tensor:  # eval mode: fresh running stats 0 and 1
        return F.batch_norm(x, torch.zeros(3, dtype=x.dtype), torch.ones(3, dtype=x.dtype))

    return Sample(
        kwargs={"num_features": 3, "ghost_batch_size": 4, "dtype": ctx.dtype},
        inputs=(ctx.images,),
        invalid=({"ghost_batch_size": 0}, {"num_features": 0}, {"momentum": 1.5},
                 {"eps": -1.0}, {"affine": "yes"}),
        identity=None,
        reference=reference,
    )


def apply_ghost_batchnorm(model: nn.Module, ghost_batch_size: int = 32) -> nn.Module:
    """Replace every ``nn.BatchNorm1d/2d/3d`` by a ``GhostBatchNorm``; see the module docstring."""
    ghost_batch_size = check_int("ghost_batch_size", ghost_batch_size, low=1)
    if isinstance(model, _BatchNorm) and not isinstance(model, GhostBatchNorm):
        return GhostBatchNorm.from_batchnorm(model, ghost_batch_size)
    found = False
    for name, module in list(model.named_modules()):
        if isinstance(module, GhostBatchNorm):
            found = True
        elif isinstance(module, _BatchNorm) and name:
            parent, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent), child,
                    GhostBatchNorm.from_batchnorm(module, ghost_batch_size))
            found = True
    if not found:
        raise ValueError("model has no batch-norm layers (nn.BatchNorm1d/2d/3d) to make ghost")
    return model


@register(
    "ghost-batchnorm",
    family=Family.LAYER,
    kind=Kind.LAYER,
    paper=TRAIN_LONGER,
    sample=_sample,
    apply=apply_ghost_batchnorm,
)
class GhostBatchNorm(_BatchNorm):
    """Batch norm with per-ghost-batch statistics; see ``reglab.card("ghost-batchnorm")``."""

    def __init__(
        self,
        num_features: int,
        ghost_batch_size: int = 32,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(
            check_int("num_features", num_features, low=1),
            check_number("eps", eps, low=0.0, low_open=True),
            check_number("momentum", momentum, low=0.0, high=1.0),
            check_bool("affine", affine),
            check_bool("track_running_stats", track_running_stats),
            device=device,
            dtype=dtype,
        )
        self.ghost_batch_size = check_int("ghost_batch_size", ghost_batch_size, low=1)

    @classmethod
    def from_batchnorm(cls, bn: _BatchNorm, ghost_batch_size: int) -> GhostBatchNorm:
        """A ``GhostBatchNorm`` sharing ``bn``'s parameters, buffers and train/eval mode."""
        if bn.momentum is None:
            raise ValueError(f"momentum must be a number in [0, 1] for ghost batch norm, got None "
                             f"(cumulative average) in {bn}")
        ghost = cls(bn.num_features, ghost_batch_size, bn.eps, bn.momentum, bn.affine,
                    bn.track_running_stats, device="meta")
        ghost.weight, ghost.bias = bn.weight, bn.bias
        for name in ("running_mean", "running_var", "num_batches_tracked"):
            setattr(ghost, name, getattr(bn, name))
        return ghost.train(bn.training)

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() < 2 or x.shape[1] != self.num_features:
            raise ValueError(
                f"GhostBatchNorm expects inputs (N, {self.num_features}, *), got {tuple(x.shape)}"
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input_dim(x)
        tracked = self.track_running_stats and self.running_mean is not None
        if not self.training and tracked:
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                                False, 0.0, self.eps)
        update = self.training and tracked
        y = ghost_batch_norm(
            x, self.ghost_batch_size,
            self.running_mean if update else None, self.running_var if update else None,
            self.weight, self.bias, self.momentum, self.eps,
        )
        if update:
            self.num_batches_tracked.add_(len(ghost_sizes(x.shape[0], self.ghost_batch_size)))
        return y

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, ghost_batch_size={self.ghost_batch_size}"
