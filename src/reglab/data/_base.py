"""Shared plumbing of the batch transforms: argument checks, soft targets, eval mode, randomness.

A transform is an ``nn.Module`` called as ``x2, y2 = t(x, y)``. ``BatchTransform.forward`` checks
the batch, turns ``y`` into soft targets (N, K) and, in training mode only, hands both to the
subclass's ``transform``; in eval mode it returns ``x`` itself and the soft targets.

``RandomTransform`` adds an optional ``generator=``. Given one, the transform owns it: its state
is the module's extra state in ``state_dict()``, so a resumed run draws the same numbers. Without
one, draws come from PyTorch's global generator (like ``nn.Dropout``). Draws are made on the
generator's device (the inputs' device without a generator) and then moved to the inputs.
"""

from __future__ import annotations

import torch
from torch import nn

from reglab._core.generator_state import GeneratorState
from reglab._core.targets import check_same_batch, soft_targets, target_dtype
from reglab._core.validation import check_generator, check_int


class BatchTransform(nn.Module):
    """Base class: ``forward(x, y) -> (x2, soft_y2)``; subclasses implement ``transform``."""

    def __init__(self, num_classes: int | None) -> None:
        super().__init__()
        self.num_classes = (
            None if num_classes is None else check_int("num_classes", num_classes, low=1)
        )

    def targets(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """(N, K) soft targets in x's dtype (the default dtype for integer x)."""
        return soft_targets(y, self.num_classes, target_dtype(x), type(self).__name__)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
            raise TypeError(
                f"x and y must be tensors, got {type(x).__name__} and {type(y).__name__}"
            )
        check_same_batch(x, y)
        targets = self.targets(x, y)
        if not self.training:
            return x, targets
        return self.transform(x, targets)

    def transform(
        self, x: torch.Tensor, targets: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError


class RandomTransform(GeneratorState, BatchTransform):
    """A transform drawing random numbers from an optional generator kept in ``state_dict()``."""

    def __init__(self, num_classes: int | None, generator: torch.Generator | None) -> None:
        super().__init__(num_classes)
        self.generator = check_generator(generator)

    def draw_device(self, fallback: torch.device) -> torch.device:
        return self.generator.device if self.generator is not None else fallback

    def uniform(self, n: int, device: torch.device) -> torch.Tensor:
        """n draws from U[0, 1) in float64."""
        return torch.rand(
            n, generator=self.generator, device=self.draw_device(device), dtype=torch.float64
        )

    def beta(self, alpha: float, n: int, device: torch.device) -> torch.Tensor:
        """n draws from Beta(alpha, alpha) in float64 (as the first coordinate of a Dirichlet)."""
        concentration = torch.full(
            (n, 2), alpha, dtype=torch.float64, device=self.draw_device(device)
        )
        return torch._sample_dirichlet(concentration, generator=self.generator)[:, 0]

    def randperm(self, n: int, device: torch.device) -> torch.Tensor:
        return torch.randperm(n, generator=self.generator, device=self.draw_device(device))

    def randint(self, high: torch.Tensor, device: torch.device) -> torch.Tensor:
        """Integers uniform in [0, high), one per entry of ``high`` (an int64 tensor)."""
        u = torch.rand(
            high.shape,
            generator=self.generator,
            device=self.draw_device(device),
            dtype=torch.float64,
        )
        return (u * high.to(u.device)).floor().long().clamp_(max=high.to(u.device) - 1)
