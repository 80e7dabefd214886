"""FractalJoin: the mean of the kept paths with at least one kept, each path kept with probability
(1 - p) + p^P / P (statistical), the plain mean in eval and at p = 0."""

import itertools

import pytest
import torch

import reglab as rl
from reglab import functional as RF


def decode(out, values):
    """The kept subset of each row, recovered from the mean of distinct path values."""
    means = {}
    for r in range(1, len(values) + 1):
        for subset in itertools.combinations(range(len(values)), r):
            means[subset] = sum(values[k] for k in subset) / r
    rows = []
    for v in out.flatten().tolist():
        match = [s for s, m in means.items() if abs(m - v) < 1e-9]
        assert len(match) == 1, v
        rows.append(match[0])
    return rows


@pytest.mark.parametrize("p", [0.15, 0.5, 0.9])
def test_keep_frequency_matches_drop_with_at_least_one_kept(p):
    values, n = [1.0, 10.0, 100.0], 6000
    paths = [torch.full((n, 1), v, dtype=torch.float64) for v in values]
    out = rl.FractalJoin(p, generator=torch.Generator().manual_seed(0))(*paths)
    subsets = decode(out, values)  # fails if any row kept nothing (no matching mean)
    expected = (1 - p) + p ** 3 / 3
    for k in range(3):
        freq = sum(k in s for s in subsets) / n
        assert abs(freq - expected) < 4 * (expected * (1 - expected) / n) ** 0.5


def test_eval_and_zero_p_are_the_mean_and_gradients_reach_kept_paths_only():
    a = torch.randn(5, 3, requires_grad=True)
    b = torch.randn(5, 3, requires_grad=True)
    join = rl.FractalJoin(0.5)
    torch.testing.assert_close(join.eval()(a, b), (a + b) / 2)
    torch.testing.assert_close(RF.fractal_join([a, b], 0.0), (a + b) / 2)
    join.train()
    out = join(a, b)
    out.sum().backward()
    kept_a = a.grad[:, 0] > 0
    kept_b = b.grad[:, 0] > 0
    assert bool((kept_a | kept_b).all())
    torch.testing.assert_close(out[kept_a & ~kept_b], a[kept_a & ~kept_b])
    assert torch.equal(join(a), a)  # one path: always kept


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match=r"p_local must be in \[0, 1\)"):
        rl.FractalJoin(1.0)
    with pytest.raises(ValueError, match="at least one path"):
        rl.FractalJoin(0.1)()
