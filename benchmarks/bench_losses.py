"""Regularizing losses: StableMax cross-entropy against ``F.cross_entropy``, forward + backward on
(4096, 1000) float32 logits; and against the reference code's form (cast to float64, then
log(s / Σ s)), which the log-space form replaces.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from benchmarks._timing import median_times, report, save
from reglab.functional import stablemax_cross_entropy

N, K = 4096, 1000


def float64_reference(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The reference code's recipe: s(x) in float64, then −mean log(s_y / Σ s)."""
    z = logits.double()
    s = torch.where(z >= 0, z + 1, 1 / (1 - z))
    return -torch.log(s / s.sum(-1, keepdim=True)).gather(1, y[:, None]).mean()


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    logits = (torch.randn(N, K) * 3).requires_grad_()
    y = torch.randint(0, K, (N,))

    def step(loss_fn):  # forward + backward
        def run() -> None:
            logits.grad = None
            loss_fn(logits, y).backward()

        return run

    times = median_times(
        {
            "cross_entropy": step(F.cross_entropy),
            "stablemax": step(stablemax_cross_entropy),
            "stablemax_float64_reference": step(float64_reference),
        },
        repeats=15,
    )
    ms = {k: round(v * 1e3, 3) for k, v in times.items()}
    rows = [
        {
            "benchmark": "stablemax CE / F.cross_entropy, fwd+bwd (4096, 1000) f32",
            "ratio": times["stablemax"] / times["cross_entropy"],
            "ours_ms": ms["stablemax"],
            "cross_entropy_ms": ms["cross_entropy"],
        },
        {
            "benchmark": "stablemax CE / float64 reference form, fwd+bwd",
            "ratio": times["stablemax"] / times["stablemax_float64_reference"],
            "ours_ms": ms["stablemax"],
            "reference_ms": ms["stablemax_float64_reference"],
        },
    ]
    report(rows)
    save("losses", rows)


if __name__ == "__main__":
    main()
