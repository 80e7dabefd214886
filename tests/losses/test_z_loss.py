import math

import pytest
import torch
import torch.nn.functional as F

import reglab as rl
from reglab.functional import z_loss


def loop_z(logits):
    rows = logits.reshape(-1, logits.shape[-1]).tolist()
    return sum(math.log(sum(math.exp(v) for v in z)) ** 2 for z in rows) / len(rows)


def test_term_matches_a_loop_over_positions_and_passes_gradcheck():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, 5, generator=g, dtype=torch.float64) * 3 + 2  # (batch, seq, vocab)
    assert float(z_loss(logits)) == pytest.approx(loop_z(logits), rel=1e-12)
    assert torch.autograd.gradcheck(z_loss, (logits.requires_grad_(),))


def test_module_is_cross_entropy_plus_the_weighted_term_with_soft_or_hard_targets():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(6, 4, generator=g, dtype=torch.float64) + 5
    y = torch.randint(0, 4, (6,), generator=g)
    soft = torch.softmax(torch.randn(6, 4, generator=g, dtype=torch.float64), 1)
    crit = rl.ZLoss(strength=0.01)
    assert float(crit(logits, y)) == pytest.approx(
        float(F.cross_entropy(logits, y)) + 0.01 * loop_z(logits)
    )
    assert float(crit(logits, soft)) == pytest.approx(
        float(F.cross_entropy(logits, soft)) + 0.01 * loop_z(logits)
    )


def test_gradient_pulls_log_z_towards_zero():
    # The term's gradient is 2·log Z·softmax(z): shifting all logits by c changes only the term.
    logits = torch.full((1, 4), 3.0, dtype=torch.float64, requires_grad=True)
    z_loss(logits).backward()
    log_z = math.log(4 * math.exp(3.0))
    torch.testing.assert_close(logits.grad, torch.full((1, 4), 2 * log_z / 4, dtype=torch.float64))


def test_scheduled_strength_advances_in_training_only_and_bad_strength_raises():
    logits, y = torch.randn(3, 4, dtype=torch.float64), torch.tensor([0, 1, 2])
    crit = rl.ZLoss(strength=rl.schedules.early(0.5, until=1))
    first, second = crit(logits, y), crit(logits, y)
    torch.testing.assert_close(first - second, 0.5 * z_loss(logits))
    crit.eval()
    crit(logits, y)
    assert int(crit.strength.step) == 2
    with pytest.raises(ValueError, match="strength must be"):
        rl.ZLoss(strength=-1.0)
