import pytest
import torch

import reglab as rl


def brute_force_ece(probs, y, bins):
    """A loop over bins, written from the definition (Guo et al. 2017, eq. 3)."""
    n = len(y)
    total = 0.0
    for m in range(bins):
        lo, hi = m / bins, (m + 1) / bins
        members = []
        for i in range(n):
            conf = float(probs[i].max())
            if (lo < conf <= hi) or (m == 0 and conf == 0.0):
                members.append(i)
        if not members:
            continue
        acc = sum(int(probs[i].argmax()) == int(y[i]) for i in members) / len(members)
        conf = sum(float(probs[i].max()) for i in members) / len(members)
        total += len(members) / n * abs(acc - conf)
    return total


@pytest.mark.parametrize("bins", [1, 5, 15])
@pytest.mark.parametrize("seed", [0, 1])
def test_equals_a_brute_force_loop(bins, seed):
    g = torch.Generator().manual_seed(seed)
    probs = (torch.randn(200, 5, generator=g, dtype=torch.float64) * 2).softmax(-1)
    y = torch.randint(0, 5, (200,), generator=g)
    assert float(rl.ece(probs, y, bins=bins)) == pytest.approx(
        brute_force_ece(probs, y, bins), abs=1e-12
    )


def test_bin_edges_belong_to_the_lower_bin():
    # confidences exactly on an edge: 0.5 is in (0.25, 0.5], 1.0 in (0.75, 1.0]
    probs = torch.tensor([[0.5, 0.5], [1.0, 0.0], [0.5, 0.5]], dtype=torch.float64)
    y = torch.tensor([0, 0, 1])
    assert float(rl.ece(probs, y, bins=4)) == pytest.approx(brute_force_ece(probs, y, 4), abs=1e-15)


def test_perfectly_calibrated_and_always_wrong():
    probs = torch.tensor([[1.0, 0.0]] * 4)
    assert float(rl.ece(probs, torch.zeros(4, dtype=torch.long))) == 0.0
    assert float(rl.ece(probs, torch.ones(4, dtype=torch.long))) == 1.0


def test_bad_input_names_the_argument():
    probs = torch.full((3, 2), 0.5)
    with pytest.raises(ValueError, match="bins must be >= 1"):
        rl.ece(probs, torch.zeros(3, dtype=torch.long), bins=0)
    with pytest.raises(ValueError, match="y must hold class indices"):
        rl.ece(probs, torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="y must be an integer tensor"):
        rl.ece(probs, torch.zeros(3))
    with pytest.raises(ValueError, match="probs must"):
        rl.ece(torch.ones(3), torch.zeros(3, dtype=torch.long))


def test_logits_and_non_probability_rows_are_refused():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(20, 4, generator=g, dtype=torch.float64)
    y = torch.randint(0, 4, (20,), generator=g)
    with pytest.raises(ValueError, match=r"probs must hold probability vectors.*pass softmax\(logits\)"):
        rl.ece(logits, y)
    with pytest.raises(ValueError, match="probs must hold probability vectors.*sum 1.1"):
        rl.ece(torch.tensor([[0.5, 0.5], [0.6, 0.5]]), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="probs must hold probability vectors.*min -0.2"):
        rl.ece(torch.tensor([[1.2, -0.2], [0.5, 0.5]]), torch.tensor([0, 1]))
    assert 0.0 <= float(rl.ece(logits.float().softmax(-1), y)) <= 1.0  # float32 rounding passes
