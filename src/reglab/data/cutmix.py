"""CutMix: paste a box cut from a partner example, and mix the labels by the pasted area.

Equation (d = 2 spatial dimensions H × W; d = 1 for signals of length L)::

    λ ~ Beta(α, α),  j = π(i) for a random permutation π of the batch
    box side in dimension k: s_k = ⌊S_k · (1 − λ)^(1/d)⌋, centre c_k uniform in {0, …, S_k − 1},
    box = Π_k [c_k − ⌊s_k/2⌋, c_k − ⌊s_k/2⌋ + s_k) clipped to the image
    x̃_i = x_i outside the box, x_j inside it
    ỹ_i = (1 − a_i) y_i + a_i y_j,   a_i = |box ∩ image| / (H·W)   (the exact pasted fraction)

With ``per_sample=False`` one λ, one box and one π serve the batch (the paper's form); with
``per_sample=True`` every example draws its own λ_i and box, vectorized over the batch.

Arguments:
    alpha: α > 0, the Beta concentration; the paper uses α = 1 (box area uniform). Default 1.
    num_classes: K >= 1, needed when ``y`` holds integer labels; ``None`` accepts soft targets.
    per_sample: one box per example (True) or one per batch (False, default).
    p: probability in [0, 1] of applying CutMix to a batch (per example with ``per_sample``).
    generator: optional ``torch.Generator``; its state is saved by ``state_dict()``.
    inplace: False (default) returns a new ``x_mixed``; True pastes the boxes into the caller's
        ``x`` and returns that tensor, as timm's Mixup does: it overwrites your batch, so only
        use it when nothing reads the unmixed batch afterwards (and not on a leaf that requires
        grad). With one box per batch it then moves only the pixels inside the box instead of
        copying the whole batch, several times cheaper.

Returns:
    ``(x_mixed, targets)``: ``x_mixed`` like x (N, C, H, W) or (N, C, L), any sizes (``x``
    itself with ``inplace``); ``targets`` (N, K) in x's dtype, rows summing to 1, always a new
    tensor. Eval mode returns ``x`` and the one-hot targets.
    ``reglab.functional.cutmix(x, targets, start, end, perm)`` pastes given boxes, and
    ``CutMix.draw(batch_size, spatial, device)`` returns the λ, centres and π of one call.

Example:
    >>> import torch, reglab as rl
    >>> cut = rl.CutMix(alpha=1.0, num_classes=10, generator=torch.Generator().manual_seed(0))
    >>> x, y = torch.randn(4, 3, 8, 8), torch.tensor([1, 2, 3, 4])
    >>> x2, y2 = cut(x, y)
    >>> x2.shape, y2.shape
    (torch.Size([4, 3, 8, 8]), torch.Size([4, 10]))

Reference:
    Sangdoo Yun, Dongyoon Han, Seong Joon Oh, Sanghyuk Chun, Junsuk Choe, Youngjoon Yoo.
    CutMix: Regularization Strategy to Train Strong Classifiers with Localizable Features.
    ICCV 2019. arXiv:1905.04899.

Traps:
    - The label weight is recomputed from the clipped box, as in the paper's code; using the
      drawn λ instead overstates the pasted area whenever the box crosses the border.
    - The official code spans [c − ⌊s/2⌋, c + ⌊s/2⌋), one pixel short for odd s; here the box
      has exactly s pixels before clipping. Either way the labels follow the true area.
    - Inputs must be channels-first; the box is the same across channels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch

from reglab._core.registry import Capabilities, Family, Kind, Paper, register
from reglab._core.samples import Sample, SampleContext
from reglab._core.validation import check_bool, check_number, check_probability
from reglab.data._base import RandomTransform
from reglab.data._boxes import box_area, box_mask, clipped_boxes, spatial_shape

CUTMIX = Paper(
    authors="Sangdoo Yun, Dongyoon Han, Seong Joon Oh, Sanghyuk Chun, Junsuk Choe, Youngjoon Yoo",
    title="CutMix: Regularization Strategy to Train Strong Classifiers with Localizable Features",
    year=2019,
    arxiv="1905.04899",
)


class CutDraw(NamedTuple):
    """The random quantities of one CutMix call: λ and box centres (one row per box) and π."""

    lam: torch.Tensor  # (B,) float64, B = 1 per batch or N per sample
    center: torch.Tensor  # (B, d) int64
    perm: torch.Tensor  # (N,) int64


def cutmix_boxes(
    lam: torch.Tensor, center: torch.Tensor, spatial: Sequence[int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Clipped boxes (start, end), each (B, d), of side ⌊S_k (1 − λ)^(1/d)⌋ around ``center``."""
    d = len(spatial)
    sizes = torch.tensor(list(spatial), dtype=torch.float64, device=lam.device)
    side = (sizes * (1.0 - lam[:, None]).clamp(min=0.0) ** (1.0 / d)).floor().long()
    return clipped_boxes(center.to(lam.device), side, spatial)


def cutmix(
    x: torch.Tensor,
    targets: torch.Tensor,
    start: torch.Tensor,
    end: torch.Tensor,
    perm: torch.Tensor,
    inplace: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Paste x[π] into x inside the boxes [start, end) and mix targets by the pasted fraction.

    ``start``/``end`` have shape (B, d) with B = 1 (one box for the batch) or N (one per
    example); ``targets`` are soft (N, K). Returns the mixed inputs and targets; with
    ``inplace`` the boxes are pasted into ``x`` itself (the targets are never modified).
    """
    if start.shape[0] == 1:  # one box: copy the slab instead of building a mask
        return _paste_one_box(x, targets, start[0].tolist(), end[0].tolist(), perm, inplace)
    spatial = tuple(x.shape[2:])
    perm = perm.to(x.device)
    mask = box_mask(start.to(x.device), end.to(x.device), spatial).unsqueeze(1)
    partners = x.index_select(0, perm)  # a copy, so x may then be overwritten
    if x.requires_grad and torch.is_grad_enabled():  # out= does not support autograd
        mixed = torch.where(mask, partners, x)
        x_mixed = x.copy_(mixed) if inplace else mixed
    else:  # one large temporary fewer: write into x itself or into the gathered copy
        x_mixed = torch.where(mask, partners, x, out=x if inplace else partners)
    total = 1
    for size in spatial:
        total *= size
    pasted = (box_area(start, end).to(torch.float64) / total).to(targets.device, targets.dtype)
    y_mixed = torch.lerp(targets, targets.index_select(0, perm), pasted[:, None])
    return x_mixed, y_mixed


def _one_box(lam: float, center: Sequence[int], spatial: Sequence[int]) -> tuple[list[int], list[int]]:
    """``cutmix_boxes`` for one box in Python integers, for d <= 2 spatial dimensions.

    The same float64 arithmetic as the tensor form ((1 − λ)^(1/2) is a square root in both),
    without a dozen tiny tensor ops; tested equal to ``cutmix_boxes``.
    """
    ratio = max(1.0 - lam, 0.0)
    if len(spatial) == 2:
        ratio = math.sqrt(ratio)
    start, end = [], []
    for c, size in zip(center, spatial, strict=True):
        side = math.floor(size * ratio)
        low = c - side // 2
        start.append(min(max(low, 0), size))
        end.append(min(max(low + side, 0), size))
    return start, end


def _paste_one_box(
    x: torch.Tensor,
    targets: torch.Tensor,
    start: Sequence[int],
    end: Sequence[int],
    perm: torch.Tensor,
    inplace: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``cutmix`` with one box [start, end) for the whole batch: copy the slab, no mask."""
    perm = perm.to(x.device)
    index = (slice(None), slice(None), *(slice(s, e) for s, e in zip(start, end, strict=True)))
    if inplace or (x.requires_grad and torch.is_grad_enabled()):
        x_mixed = x if inplace else x.clone()
        x_mixed[index] = x[index].index_select(0, perm)  # gathered first: safe in place
    else:  # gather straight into the copy's box: one pass over it (out= has no autograd)
        x_mixed = x.clone()
        torch.index_select(x[index], 0, perm, out=x_mixed[index])
    pasted = math.prod(max(e - s, 0) for s, e in zip(start, end, strict=True))
    fraction = pasted / math.prod(x.shape[2:])  # float64, as the tensor form
    y_mixed = torch.lerp(targets, targets.index_select(0, perm), fraction)
    return x_mixed, y_mixed


def _sample(ctx: SampleContext) -> Sample:
    return Sample(
        kwargs={
            "alpha": 1.0,
            "num_classes": ctx.num_classes,
            "per_sample": True,
            "generator": torch.Generator().manual_seed(ctx.seed),
        },
        inputs=(ctx.images, ctx.y),
        invalid=(
            {"alpha": 0.0},
            {"alpha": -0.5},
            {"num_classes": -1},
            {"p": -0.1},
            {"per_sample": 1},
            {"generator": "seed"},
            {"inplace": "yes"},
        ),
        identity={"p": 0.0},
    )


@register(
    "cutmix",
    family=Family.BATCH_TRANSFORM,
    kind=Kind.TRANSFORM,
    paper=CUTMIX,
    capabilities=Capabilities(changes_targets=True),
    sample=_sample,
)
class CutMix(RandomTransform):
    """CutMix of inputs and soft targets; see the module docstring (``reglab.card("cutmix")``)."""

    def __init__(
        self,
        alpha: float = 1.0,
        num_classes: int | None = None,
        per_sample: bool = False,
        p: float = 1.0,
        generator: torch.Generator | None = None,
        inplace: bool = False,
    ) -> None:
        super().__init__(num_classes, generator)
        self.alpha = check_number("alpha", alpha, low=0.0, low_open=True)
        self.per_sample = check_bool("per_sample", per_sample)
        self.p = check_probability("p", p)
        self.inplace = check_bool("inplace", inplace)

    def draw(self, batch_size: int, spatial: Sequence[int], device: torch.device) -> CutDraw:
        """λ (1 where not applied, giving an empty box), box centres and π for one call."""
        n = batch_size if self.per_sample else 1
        lam = self.beta(self.alpha, n, device)
        if self.p < 1.0:
            lam = torch.where(self.uniform(n, device) < self.p, lam, torch.ones_like(lam))
        sizes = torch.tensor(list(spatial), dtype=torch.long).expand(n, len(spatial))
        center = self.randint(sizes, device)
        perm = self.randperm(batch_size, device)
        return CutDraw(lam, center, perm)

    def transform(
        self, x: torch.Tensor, targets: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        spatial = spatial_shape(x, "CutMix")
        lam, center, perm = self.draw(x.shape[0], spatial, x.device)
        if not self.per_sample and len(spatial) <= 2:  # one box: Python integers suffice
            first, last = _one_box(float(lam[0]), center[0].tolist(), spatial)
            if self.p < 1.0 and any(e <= s for s, e in zip(first, last, strict=True)):
                return x, targets
            return _paste_one_box(x, targets, first, last, perm, self.inplace)
        start, end = cutmix_boxes(lam, center, spatial)
        if self.p < 1.0 and bool((box_area(start, end) == 0).all()):
            return x, targets
        return cutmix(x, targets, start, end, perm, inplace=self.inplace)

    def extra_repr(self) -> str:
        return (
            f"alpha={self.alpha:g}, num_classes={self.num_classes}, "
            f"per_sample={self.per_sample}, p={self.p:g}, inplace={self.inplace}"
        )
