import math

import pytest
import torch
import torch.nn.functional as F

import reglab as rl


def loop_ce(logits, soft):
    total = 0.0
    for z, t in zip(logits.tolist(), soft.tolist(), strict=True):
        lse = math.log(sum(math.exp(v) for v in z))
        total += -sum(tk * (zk - lse) for zk, tk in zip(z, t, strict=True))
    return total / len(logits)


def test_soft_targets_match_a_plain_loop_and_torch():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(8, 5, generator=g, dtype=torch.float64)
    soft = torch.softmax(torch.randn(8, 5, generator=g, dtype=torch.float64), dim=1)
    got = rl.soft_cross_entropy(logits, soft)
    assert float(got) == pytest.approx(loop_ce(logits, soft), rel=1e-12)
    torch.testing.assert_close(got, F.cross_entropy(logits, soft))


def test_integer_labels_and_leading_dimensions_and_reductions():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 3, 6, generator=g, dtype=torch.float64)  # (batch, seq, classes)
    y = torch.randint(0, 6, (2, 3), generator=g)
    per = rl.soft_cross_entropy(logits, y, reduction="none")
    assert per.shape == (2, 3)
    torch.testing.assert_close(per, F.cross_entropy(logits.permute(0, 2, 1), y, reduction="none"))
    torch.testing.assert_close(rl.soft_cross_entropy(logits, y, reduction="sum"), per.sum())
    torch.testing.assert_close(rl.soft_cross_entropy(logits, F.one_hot(y, 6).double()), per.mean())


def test_bad_targets_raise():
    logits = torch.randn(4, 3)
    with pytest.raises(ValueError, match=r"class labels in \[0, 3\)"):
        rl.soft_cross_entropy(logits, torch.tensor([0, 1, 2, 3]))
    with pytest.raises(ValueError, match="logits' shape"):
        rl.soft_cross_entropy(logits, torch.rand(4, 5))
    with pytest.raises(ValueError, match="reduction must be one of"):
        rl.soft_cross_entropy(logits, torch.tensor([0, 1, 2, 0]), reduction="avg")


@pytest.mark.parametrize(
    "fix, why",
    [(lambda row: row.mul_(2), "sum 2"), (lambda row: row[0].fill_(float("nan")), "sum nan"),
     (lambda row: row.copy_(torch.tensor([1.5, -0.5, 0.0])), "min -0.5")],
)
def test_soft_targets_that_are_not_probability_vectors_are_refused(fix, why):
    logits = torch.randn(2, 4, 3, dtype=torch.float64)  # leading dimensions (batch, seq)
    targets = torch.full((2, 4, 3), 1 / 3, dtype=torch.float64)
    fix(targets[1, 2])
    message = rf"soft targets must hold probability vectors.*row 1, 2 = .*{why}"
    with pytest.raises(ValueError, match=message):
        rl.soft_cross_entropy(logits, targets)


def test_logits_passed_as_targets_are_refused_but_rounded_softmax_passes():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(8, 50, generator=g)
    with pytest.raises(ValueError, match="soft targets must hold probability vectors"):
        rl.soft_cross_entropy(logits, torch.randn(8, 50, generator=g))
    for dtype in (torch.float32, torch.float16, torch.bfloat16):
        soft = torch.randn(8, 50, generator=g).to(dtype).softmax(-1)
        rl.soft_cross_entropy(logits.to(dtype), soft)  # rounding stays within the tolerance
