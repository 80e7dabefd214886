from decimal import Decimal, getcontext

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import reglab as rl
from reglab.functional import log_stablemax, stablemax, stablemax_cross_entropy

getcontext().prec = 60


def s_exact(v):
    d = Decimal(float(v))  # the exact value of the float
    return d + 1 if d >= 0 else 1 / (1 - d)


def exact_loss(row, label):
    """−log StableMax(row)[label] in 60-digit decimal arithmetic."""
    s = [s_exact(v) for v in row.tolist()]
    return float(-(s[label] / sum(s)).ln())


def test_stablemax_equals_the_definition_including_zero_logits():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(5, 6, generator=g, dtype=torch.float64) * 3
    x[0, 2] = 0.0
    got = stablemax(x, dim=1)
    for i in range(5):
        s = [s_exact(v) for v in x[i].tolist()]
        for k in range(6):
            assert float(got[i, k]) == pytest.approx(float(s[k] / sum(s)), rel=1e-13)
    torch.testing.assert_close(stablemax(x.T, dim=0), got.T)


def test_gradients_pass_gradcheck_and_gradgradcheck_in_float64():
    g = torch.Generator().manual_seed(1)
    x = (torch.randn(4, 5, generator=g, dtype=torch.float64) * 2).requires_grad_()
    with torch.no_grad():
        x[1, 1] = 0.0  # derivative of log s at 0 is 1 from both sides
    y = torch.tensor([0, 1, 4, 2])
    soft = torch.softmax(torch.randn(4, 5, generator=g, dtype=torch.float64), 1)
    assert torch.autograd.gradcheck(lambda z: stablemax_cross_entropy(z, y), (x,))
    assert torch.autograd.gradcheck(lambda z: stablemax_cross_entropy(z, soft), (x,))
    assert torch.autograd.gradcheck(lambda z: stablemax(z, dim=1), (x,))
    assert torch.autograd.gradgradcheck(lambda z: stablemax_cross_entropy(z, y), (x,))


def test_argmax_equals_softmax_argmax():
    x = torch.randn(200, 10, generator=torch.Generator().manual_seed(2)) * 5
    assert torch.equal(stablemax(x).argmax(1), torch.softmax(x, 1).argmax(1))


def fitted_logits(scale):
    """float32 logits where every label is the argmax by a margin >= 1, times ``scale``."""
    g = torch.Generator().manual_seed(3)
    z = torch.randn(64, 10, generator=g)
    y = torch.randint(0, 10, (64,), generator=g)
    z[torch.arange(64), y] = z.max(1).values + 1.0
    return (z * scale).requires_grad_(), y


def test_softmax_collapse_at_scale_1e4_but_stablemax_keeps_a_gradient():
    z, y = fitted_logits(1.0)
    F.cross_entropy(z, y).backward()
    assert float(z.grad.abs().max()) > 0  # at the normal scale softmax CE still learns
    z, y = fitted_logits(1e4)
    loss = F.cross_entropy(z, y)
    loss.backward()
    assert float(loss.detach()) == 0.0 and float(z.grad.abs().max()) == 0.0  # Softmax Collapse
    z2 = z.detach().clone().requires_grad_()
    loss2 = stablemax_cross_entropy(z2, y)
    loss2.backward()
    assert float(loss2.detach()) > 0 and torch.isfinite(z2.grad).all()
    assert int((z2.grad.abs().sum(1) > 0).sum()) == 64  # every example still has a gradient


def test_float32_logits_up_to_1e30_give_finite_losses_that_match_exact_arithmetic():
    g = torch.Generator().manual_seed(4)
    magnitude = 10 ** (torch.rand(32, 6, generator=g, dtype=torch.float64) * 60 - 30)
    sign = torch.where(torch.rand(32, 6, generator=g) < 0.5, -1.0, 1.0)
    z = (sign * magnitude).float()
    z[0] = torch.tensor([-1e30, 1e30, 1e30, -1e30, 0.0, 1e29])
    y = torch.randint(0, 6, (32,), generator=g)
    y[0] = 0  # the label has the smallest logit: p = 1e-60 / 2e30
    losses = stablemax_cross_entropy(z, y, reduction="none")
    assert torch.isfinite(losses).all() and (losses > 0).all()
    for i in range(32):
        assert float(losses[i]) == pytest.approx(exact_loss(z[i], int(y[i])), rel=1e-5)
    s = torch.where(z >= 0, z + 1, 1 / (1 - z))  # the naive float32 formula underflows to log 0
    assert float(-torch.log(s[0, 0] / s[0].sum())) == float("inf")


def test_near_zero_losses_keep_their_value_in_float32():
    z = torch.tensor([[1e5, -1e3, -1e4, -1e5], [1e6, -1e2, -1e4, -1e6]])  # losses ~1e-8
    y = torch.tensor([0, 0])
    losses = stablemax_cross_entropy(z, y, reduction="none")
    for i in range(2):
        assert float(losses[i]) == pytest.approx(exact_loss(z[i], 0), rel=1e-5)
    u = torch.copysign(torch.log1p(z.abs()), z)  # log s(z)
    rounded = torch.logsumexp(u, 1) - u[:, 0]  # the logsumexp form rounds these to 0
    assert float(rounded.abs().max()) == 0.0
    assert float(losses.min()) > 0


def test_module_reductions_and_soft_targets():
    z = torch.randn(3, 4, 5, dtype=torch.float64)
    y = torch.randint(0, 5, (3, 4))
    crit = rl.StableMaxCrossEntropy(reduction="none")
    per = crit(z, y)
    assert per.shape == (3, 4)
    torch.testing.assert_close(per, -log_stablemax(z).gather(-1, y[..., None]).squeeze(-1))
    torch.testing.assert_close(rl.StableMaxCrossEntropy()(z, F.one_hot(y, 5).double()), per.mean())
    with pytest.raises(ValueError, match="reduction"):
        rl.StableMaxCrossEntropy(reduction="avg")


def test_composes_with_mixup_in_a_recipe():
    torch.manual_seed(0)
    model = nn.Linear(6, 3).double()
    reference = nn.Linear(6, 3).double()
    reference.load_state_dict(model.state_dict())
    x, y = torch.randn(8, 6, dtype=torch.float64), torch.randint(0, 3, (8,))
    mix = rl.Mixup(alpha=0.4, num_classes=3, generator=torch.Generator().manual_seed(0))
    recipe = rl.Recipe(
        [mix, rl.StableMaxCrossEntropy(), torch.optim.SGD(model.parameters(), lr=0.1)]
    )
    loss = recipe.step(model, x, y)
    x2, y2 = rl.Mixup(alpha=0.4, num_classes=3, generator=torch.Generator().manual_seed(0))(x, y)
    torch.testing.assert_close(loss, stablemax_cross_entropy(reference(x2), y2).detach())


def test_soft_targets_that_are_not_probability_vectors_are_refused():
    z = torch.randn(4, 3, dtype=torch.float64)
    crit = rl.StableMaxCrossEntropy()
    good = torch.full((4, 3), 1 / 3, dtype=torch.float64)
    crit(z, good)
    for bad, why in ((good * 3, "sum 3"), (good - 1 / 3 + torch.tensor([2.0, -1.0, 0.0]), "min -1"),
                     (good.clone().fill_(float("nan")), "sum nan")):
        with pytest.raises(ValueError, match=f"soft targets must hold probability vectors.*{why}"):
            crit(z, bad)
        with pytest.raises(ValueError, match="soft targets"):
            stablemax_cross_entropy(z, bad)
