"""Batch transforms: vectorized per-sample Mixup / CutMix against a per-example Python loop, and
the batch-mode cost relative to a small CNN's forward pass, on a 256×3×32×32 batch.

Ratios above 1 in the loop rows mean the vectorized form is that many times faster (goal >= 10);
the overhead rows give transform time / model forward time.
"""

from __future__ import annotations

import torch
from torch import nn

import reglab as rl
from benchmarks._timing import median_times, report, save

N, C, H, W, K = 256, 3, 32, 32, 10


def loop_mixup(x: torch.Tensor, y: torch.Tensor, alpha: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Straightforward per-example Mixup: one λ draw and one blend per example."""
    beta = torch.distributions.Beta(torch.tensor(alpha), torch.tensor(alpha))
    perm = torch.randperm(x.shape[0])
    soft = nn.functional.one_hot(y, K).float()
    xs, ys = torch.empty_like(x), torch.empty_like(soft)
    for i in range(x.shape[0]):
        lam = float(beta.sample())
        j = int(perm[i])
        xs[i] = lam * x[i] + (1 - lam) * x[j]
        ys[i] = lam * soft[i] + (1 - lam) * soft[j]
    return xs, ys


def loop_cutmix(
    x: torch.Tensor, y: torch.Tensor, alpha: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Straightforward per-example CutMix: one box drawn and pasted per example."""
    beta = torch.distributions.Beta(torch.tensor(alpha), torch.tensor(alpha))
    perm = torch.randperm(x.shape[0])
    soft = nn.functional.one_hot(y, K).float()
    xs, ys = x.clone(), torch.empty_like(soft)
    h, w = x.shape[2:]
    for i in range(x.shape[0]):
        lam = float(beta.sample())
        j = int(perm[i])
        cut_h, cut_w = int(h * (1 - lam) ** 0.5), int(w * (1 - lam) ** 0.5)
        cy, cx = int(torch.randint(h, ())), int(torch.randint(w, ()))
        y0, x0 = min(max(cy - cut_h // 2, 0), h), min(max(cx - cut_w // 2, 0), w)
        y1, x1 = min(max(cy - cut_h // 2 + cut_h, 0), h), min(max(cx - cut_w // 2 + cut_w, 0), w)
        xs[i, :, y0:y1, x0:x1] = x[j, :, y0:y1, x0:x1]
        a = (y1 - y0) * (x1 - x0) / (h * w)
        ys[i] = (1 - a) * soft[i] + a * soft[j]
    return xs, ys


def small_cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(C, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * 8 * 8, K),
    )


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    x, y = torch.randn(N, C, H, W), torch.randint(0, K, (N,))
    g = torch.Generator().manual_seed(0)
    mix_elem = rl.Mixup(alpha=1.0, num_classes=K, per_sample=True, generator=g)
    cut_elem = rl.CutMix(alpha=1.0, num_classes=K, per_sample=True, generator=g)
    mix_batch = rl.Mixup(alpha=1.0, num_classes=K, generator=g)
    cut_batch = rl.CutMix(alpha=1.0, num_classes=K, generator=g)
    model = small_cnn()

    def forward() -> None:
        with torch.no_grad():
            model(x)

    # One forward first puts the allocator in its training-loop state (large buffers already
    # seen, so the transforms' 3 MB outputs are not fresh page-faulting mappings at every call).
    # Each ratio is then timed in its own interleaved group: the loops' many small allocations
    # change how the allocator serves the next large one, which would tax whatever runs after.
    forward()
    times = median_times(
        {"mixup_elem": lambda: mix_elem(x, y), "mixup_loop": lambda: loop_mixup(x, y, 1.0)},
        repeats=25,
    )
    times |= median_times(
        {"cutmix_elem": lambda: cut_elem(x, y), "cutmix_loop": lambda: loop_cutmix(x, y, 1.0)},
        repeats=25,
    )
    times |= median_times(
        {
            "cnn_forward": forward,
            "mixup_batch": lambda: mix_batch(x, y),
            "cutmix_batch": lambda: cut_batch(x, y),
        },
        repeats=10,
    )
    ms = {k: round(v * 1e3, 3) for k, v in times.items()}
    rows = [
        {
            "benchmark": "mixup per-sample: per-example loop / vectorized",
            "ratio": times["mixup_loop"] / times["mixup_elem"],
            "loop_ms": ms["mixup_loop"],
            "ours_ms": ms["mixup_elem"],
        },
        {
            "benchmark": "cutmix per-sample: per-example loop / vectorized",
            "ratio": times["cutmix_loop"] / times["cutmix_elem"],
            "loop_ms": ms["cutmix_loop"],
            "ours_ms": ms["cutmix_elem"],
        },
        {
            "benchmark": "mixup batch mode / small-CNN forward",
            "ratio": times["mixup_batch"] / times["cnn_forward"],
            "ours_ms": ms["mixup_batch"],
            "forward_ms": ms["cnn_forward"],
        },
        {
            "benchmark": "cutmix batch mode / small-CNN forward",
            "ratio": times["cutmix_batch"] / times["cnn_forward"],
            "ours_ms": ms["cutmix_batch"],
            "forward_ms": ms["cnn_forward"],
        },
    ]
    report(rows)
    save("transforms", rows)


if __name__ == "__main__":
    main()
