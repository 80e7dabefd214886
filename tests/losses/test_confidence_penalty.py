import math

import pytest
import torch
import torch.nn.functional as F

import reglab as rl
from reglab.functional import confidence_penalty


def loop_entropy(logits):
    total = 0.0
    for z in logits.tolist():
        e = [math.exp(v) for v in z]
        p = [v / sum(e) for v in e]
        total += -sum(q * math.log(q) for q in p)
    return total / len(logits)


def test_term_is_minus_the_mean_entropy_and_passes_gradcheck():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(7, 5, generator=g, dtype=torch.float64) * 2
    assert float(confidence_penalty(logits)) == pytest.approx(-loop_entropy(logits), rel=1e-12)
    assert torch.autograd.gradcheck(confidence_penalty, (logits.requires_grad_(),))


def test_uniform_prediction_is_the_stationary_point_and_maximizes_entropy():
    logits = torch.zeros(2, 6, dtype=torch.float64, requires_grad=True)
    value = confidence_penalty(logits)
    value.backward()
    assert float(value.detach()) == pytest.approx(-math.log(6))
    assert float(logits.grad.abs().max()) < 1e-15


def test_module_is_cross_entropy_minus_beta_entropy_for_hard_and_soft_targets():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(5, 3, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (5,), generator=g)
    soft = F.one_hot(y, 3).double() * 0.9 + 0.1 / 3
    crit = rl.ConfidencePenalty(strength=0.3)
    for targets in (y, soft):
        expected = float(F.cross_entropy(logits, targets)) - 0.3 * loop_entropy(logits)
        assert float(crit(logits, targets)) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(TypeError, match="strength must be a number"):
        rl.ConfidencePenalty(strength="high")
