"""Shared target checks: probability rows with a dtype-relative tolerance on their sums."""

import pytest
import torch

from reglab._core.targets import SUM_TOLERANCE, check_distributions


def loop_is_distribution(rows, tol):
    """The definition, one row at a time in float64."""
    flat = rows.double().reshape(-1, rows.shape[-1])
    for i, row in enumerate(flat.tolist()):
        if any(v != v or v < 0 for v in row) or abs(sum(row) - 1) > tol:
            return i
    return None


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16, torch.bfloat16])
def test_agrees_with_a_row_loop_on_random_rows(dtype):
    g = torch.Generator().manual_seed(0)
    tol = SUM_TOLERANCE[dtype]
    changes = [0.0, 0.5 * tol, 3 * tol, float("nan"), -2.0]  # within, beyond, NaN, negative
    outcomes = []
    for trial in range(30):
        rows = torch.rand(3, 4, 5, generator=g, dtype=torch.float64)
        rows = rows / rows.sum(-1, keepdim=True)
        i, j, k = (int(torch.randint(0, n, (1,), generator=g)) for n in (3, 4, 5))
        rows[i, j, k] += changes[trial % len(changes)]
        rows = rows.to(dtype)
        bad = loop_is_distribution(rows, tol)
        outcomes.append(bad is None)
        if bad is None:
            check_distributions("t", rows)
        else:
            a, b = divmod(bad, 4)
            with pytest.raises(ValueError, match=rf"^t must hold probability vectors.*row {a}, {b} ="):
                check_distributions("t", rows)
    assert outcomes.count(True) == 12 and outcomes.count(False) == 18


def test_empty_and_one_dimensional_inputs():
    check_distributions("t", torch.empty(0, 3))
    check_distributions("t", torch.tensor([0.25, 0.75]))
    with pytest.raises(ValueError, match=r"got \[0\.5, 0\.6\] \(sum 1\.1, min 0\.5\); hint"):
        check_distributions("t", torch.tensor([0.5, 0.6]), "; hint")


def test_gradients_are_not_needed_and_long_rows_are_shortened():
    rows = torch.full((2, 20), 0.1, requires_grad=True)
    shortened = r"row 0 = \[" + r"0\.1, " * 8 + r"\.\.\.\] \(sum 2"
    with pytest.raises(ValueError, match=shortened):
        check_distributions("t", rows)
