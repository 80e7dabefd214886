"""DARE: kept fraction and the mean of the merge checked statistically with a fixed seed."""

from __future__ import annotations

import pytest
import torch

import reglab as rl
from reglab.merging import DareRescale, dare, task_vector


def test_kept_fraction_and_rescale_are_exact_for_inverse_keep() -> None:
    n, p = 200_000, 0.7
    delta = torch.full((n,), 2.0, dtype=torch.float64)
    out = dare(delta, p, DareRescale.INVERSE_KEEP, torch.Generator().manual_seed(0))
    kept = out != 0
    sd = (p * (1 - p) / n) ** 0.5
    assert abs(kept.double().mean().item() - (1 - p)) < 4 * sd
    torch.testing.assert_close(out[kept], torch.full_like(out[kept], 2.0 / (1 - p)))


def test_expected_merge_equals_task_arithmetic() -> None:
    # E[θ_base + Σ w_t DARE(δ_t)] = θ_base + Σ w_t δ_t under the 1/(1 − p) rescale.
    g = torch.Generator().manual_seed(1)
    base = {"w": torch.randn(50, dtype=torch.float64, generator=g)}
    tuned = [{"w": base["w"] + torch.randn(50, dtype=torch.float64, generator=g)} for _ in range(2)]
    weights, p, draws = [0.7, 0.3], 0.5, 4000
    gen = torch.Generator().manual_seed(2)
    runs = torch.stack([rl.dare_merge(base, tuned, p=p, weights=weights, generator=gen)["w"]
                        for _ in range(draws)])
    expected = base["w"] + sum(w * (t["w"] - base["w"]) for w, t in zip(weights, tuned))
    # per-entry standard error of the mean: sqrt(Σ w² δ² p/(1 − p) / draws)
    var = sum(w**2 * (t["w"] - base["w"]) ** 2 for w, t in zip(weights, tuned)) * p / (1 - p)
    z = (runs.mean(0) - expected) / (var / draws).sqrt()
    assert z.abs().max() < 4.5
    assert z.abs().mean() < 1.2  # |N(0,1)| has mean 0.80


def test_l1_rescale_keeps_the_l1_norm_per_tensor() -> None:
    g = torch.Generator().manual_seed(3)
    delta = torch.randn(30, 20, dtype=torch.float64, generator=g)
    out = dare(delta, 0.8, DareRescale.L1_NORM, torch.Generator().manual_seed(4))
    torch.testing.assert_close(out.abs().sum(), delta.abs().sum())
    kept = out != 0
    ratio = out[kept] / delta[kept]
    torch.testing.assert_close(ratio, torch.full_like(ratio, float(ratio[0])))  # one scale a tensor
    assert torch.equal(dare(torch.zeros(3), 0.5, DareRescale.L1_NORM), torch.zeros(3))


def test_p_zero_is_task_arithmetic_and_generator_reproduces() -> None:
    base = {"w": torch.zeros(5), "n": torch.tensor(3)}
    tuned = [{"w": torch.arange(5.0), "n": torch.tensor(9)}]
    merged = rl.dare_merge(base, tuned, p=0.0, weights=[2.0])
    torch.testing.assert_close(merged["w"], 2 * torch.arange(5.0))
    assert int(merged["n"]) == 3
    a = rl.dare_merge(base, tuned, p=0.5, generator=torch.Generator().manual_seed(7))
    b = rl.dare_merge(base, tuned, p=0.5, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a["w"], b["w"])


def test_refuses_mismatched_state_dicts_naming_the_key() -> None:
    base = {"w": torch.zeros(5), "v": torch.zeros(2)}
    with pytest.raises(ValueError, match="'v'"):
        rl.dare_merge(base, [{"w": torch.ones(5)}])
    with pytest.raises(ValueError, match="'w'.*shape"):
        rl.dare_merge(base, [{"w": torch.ones(4), "v": torch.ones(2)}])
    with pytest.raises(ValueError, match="'w'"):
        task_vector({"w": torch.ones(4), "v": torch.ones(2)}, base)
    with pytest.raises(ValueError, match="p must be in"):
        rl.dare_merge(base, [base], p=1.0)
