"""Cutout: zero a square patch (a segment, for signals) at a random place in each example.

Equation (for each example i and each of ``num_holes`` holes, independently)::

    centre c_k uniform in {0, …, S_k − 1} in every spatial dimension k (a pixel of the image)
    hole = Π_k [c_k − ⌊s/2⌋, c_k − ⌊s/2⌋ + s) clipped to the image
    x̃_i = 0 inside the union of the holes, x_i elsewhere (every channel)

Because the centre can be any pixel, a hole near the border hangs over it and is clipped, so
fewer than s² pixels are zeroed; the paper found allowing this important.

Arguments:
    size: s >= 0, the side of the square hole (the length of the segment on (N, C, L) inputs),
        in pixels; 0 disables Cutout. The paper uses 16 on CIFAR-10 and 8 on CIFAR-100.
    num_holes: number of holes per example, >= 1 (they may overlap). Default 1.
    num_classes: ``None`` (default) hands ``y`` back untouched, so Cutout composes with losses
        that need integer labels (ELR, PS-KD); K >= 1 returns one-hot (N, K) targets in x's
        dtype, like the mixing transforms, so Cutout can stand anywhere among them.
    generator: optional ``torch.Generator``; its state is saved by ``state_dict()``.

Returns:
    ``(x_cut, y)``: ``x_cut`` of x's shape (N, C, H, W) or (N, C, L); ``y`` as described under
    ``num_classes``. Eval mode (and ``size=0``) returns ``x`` itself.
    ``reglab.functional.cutout(x, start, end)`` zeroes given holes; ``Cutout.draw(batch_size,
    spatial, device)`` returns the centres one call would use.

Example:
    >>> import torch, reglab as rl
    >>> cut = rl.Cutout(size=4, generator=torch.Generator().manual_seed(0))
    >>> x, y = torch.ones(2, 3, 8, 8), torch.tensor([0, 1])
    >>> x2, y2 = cut(x, y)
    >>> int((x2[:, 0] == 0).sum(dim=(1, 2)).max()) <= 16, y2 is y
    (True, True)

Reference:
    Terrance DeVries, Graham W. Taylor. Improved Regularization of Convolutional Neural Networks
    with Cutout. 2017. arXiv:1708.04552.

Traps:
    - The value written is 0, i.e. the dataset mean when inputs are normalized; apply Cutout
      after normalization.
    - The centre is a pixel of the image, as in the paper's code: the hole may extend past the
      border (and is then clipped), but it is never entirely outside, so at least ⌈s/2⌉ pixels
      per dimension are zeroed when s <= the image side.
    - Registry capabilities say Cutout does not change targets: with ``num_classes`` given it
      only re-encodes labels as one-hot rows, which a loss needing labels (ELR) refuses at call.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from reglab._core.registry import Family, Kind, Paper, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.validation import check_int
from reglab.data._base import RandomTransform
from reglab.data._boxes import box_mask, clipped_boxes, spatial_shape

CUTOUT = Paper(
    authors="Terrance DeVries, Graham W. Taylor",
    title="Improved Regularization of Convolutional Neural Networks with Cutout",
    year=2017,
    arxiv="1708.04552",
)


def cutout(x: torch.Tensor, start: torch.Tensor, end: torch.Tensor) -> torch.Tensor:
    """Zero x (N, C, *spatial) inside the holes [start, end), each of shape (N, holes, d)."""
    spatial = tuple(x.shape[2:])
    mask = box_mask(start.to(x.device), end.to(x.device), spatial).any(dim=1)  # (N, *spatial)
    return x.masked_fill(mask.unsqueeze(1), 0)


def _sample(ctx: SampleContext) -> Sample:
    return Sample(
        kwargs={
            "size": 4,
            "num_holes": 2,
            "num_classes": ctx.num_classes,
            "generator": torch.Generator().manual_seed(ctx.seed),
        },
        inputs=(ctx.images, ctx.y),
        invalid=(
            {"size": -1},
            {"size": 2.5},
            {"num_holes": 0},
            {"num_classes": 0},
            {"generator": 1},
        ),
        identity={"size": 0},
    )


@register(
    "cutout", family=Family.BATCH_TRANSFORM, kind=Kind.TRANSFORM, paper=CUTOUT, sample=_sample
)
class Cutout(RandomTransform):
    """Cutout of square holes; see the module docstring (``reglab.card("cutout")``)."""

    def __init__(
        self,
        size: int = 8,
        num_holes: int = 1,
        num_classes: int | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(num_classes, generator)
        self.size = check_int("size", size, low=0)
        self.num_holes = check_int("num_holes", num_holes, low=1)

    def targets(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return y if self.num_classes is None else super().targets(x, y)

    def draw(self, batch_size: int, spatial: Sequence[int], device: torch.device) -> torch.Tensor:
        """Hole centres of one call, shape (N, num_holes, d), int64."""
        sizes = torch.tensor(list(spatial), dtype=torch.long)
        return self.randint(sizes.expand(batch_size, self.num_holes, len(spatial)), device)

    def transform(
        self, x: torch.Tensor, targets: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        spatial = spatial_shape(x, "Cutout")
        if self.size == 0:
            return x, targets
        center = self.draw(x.shape[0], spatial, x.device)
        side = torch.full_like(center, self.size)
        start, end = clipped_boxes(center, side, spatial)
        return cutout(x, start, end), targets

    def extra_repr(self) -> str:
        return f"size={self.size}, num_holes={self.num_holes}, num_classes={self.num_classes}"
