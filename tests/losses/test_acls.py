"""ACLS: the penalty equals a Python loop over positions and logits, has the paper's gradient
(stop-gradient through the max in the gap term), passes gradcheck, and the module is CE + α·R."""

import pytest
import torch
import torch.nn.functional as F

import reglab as rl
from reglab.functional import acls_penalty


def loop_acls(logits, lambda1, lambda2, margin):
    rows = logits.reshape(-1, logits.shape[-1]).tolist()
    pos = neg = 0.0
    for z in rows:
        k_hat = max(range(len(z)), key=lambda k: (z[k], -k))  # first largest
        top = z[k_hat]
        pos += max(top - margin, 0.0) ** 2
        neg += sum(max(top - z[j] - margin, 0.0) ** 2 for j in range(len(z)) if j != k_hat)
    n, k = len(rows), len(rows[0])
    return lambda1 * pos / n + lambda2 * neg / (n * (k - 1))


def test_penalty_matches_a_loop_over_positions_with_extra_dimensions():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 4, 6, generator=g, dtype=torch.float64) * 4 + 1  # (batch, seq, K)
    for lambda1, lambda2, margin in [(1.0, 0.1, 2.0), (0.5, 2.0, 0.5), (1.0, 1.0, 100.0)]:
        got = float(acls_penalty(logits, lambda1, lambda2, margin))
        assert got == pytest.approx(loop_acls(logits, lambda1, lambda2, margin), rel=1e-12)
    assert float(acls_penalty(logits, 1.0, 1.0, 100.0)) == 0.0  # inside the margin: no penalty


def test_gradcheck_and_stop_gradient_through_the_max_in_the_gap_term():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(5, 4, generator=g, dtype=torch.float64) * 3
    # The max-logit term is an ordinary function: gradcheck everything with λ₂ = 0.
    assert torch.autograd.gradcheck(lambda z: acls_penalty(z, 1.0, 0.0, 1.0),
                                    (logits.clone().requires_grad_(),))
    # The gap term treats ẑ as a constant: gradcheck it in the non-maximal logits only.
    nonmax = 1.0 - F.one_hot(logits.argmax(1), 4).to(logits.dtype)
    delta = torch.zeros_like(logits, requires_grad=True)
    assert torch.autograd.gradcheck(lambda d: acls_penalty(logits + d * nonmax, 1.0, 0.3, 1.0),
                                    (delta,))
    # Only the gap term (λ₁ = 0): the max logit gets no gradient, each other z_ij gets
    # −2 λ₂ ReLU(ẑ − z_ij − m) / (N (K − 1)).
    z = torch.tensor([[5.0, 0.0, 1.0]], dtype=torch.float64, requires_grad=True)
    acls_penalty(z, 0.0, 1.0, 2.0).backward()
    torch.testing.assert_close(z.grad, torch.tensor([[0.0, -2 * 3.0 / 2, -2 * 2.0 / 2]],
                                                    dtype=torch.float64))
    # Only the max term: gradient 2 λ₁ ReLU(ẑ − m) / N on the max logit, nothing elsewhere.
    z.grad = None
    acls_penalty(z, 1.0, 0.0, 2.0).backward()
    torch.testing.assert_close(z.grad, torch.tensor([[6.0, 0.0, 0.0]], dtype=torch.float64))


def test_module_is_cross_entropy_plus_alpha_times_the_penalty_for_hard_and_soft_targets():
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(6, 5, generator=g, dtype=torch.float64) * 5
    y = torch.randint(0, 5, (6,), generator=g)
    soft = torch.softmax(torch.randn(6, 5, generator=g, dtype=torch.float64), 1)
    crit = rl.ACLS(strength=0.2, lambda1=1.0, lambda2=0.5, margin=3.0)
    reg = loop_acls(logits, 1.0, 0.5, 3.0)
    assert float(crit(logits, y)) == pytest.approx(float(F.cross_entropy(logits, y)) + 0.2 * reg)
    assert float(crit(logits, soft)) == pytest.approx(
        float(F.cross_entropy(logits, soft)) + 0.2 * reg
    )
    assert rl.create("acls").margin == 10.0 and "margin=10" in repr(rl.ACLS())


def test_training_shrinks_logits_beyond_the_margin():
    torch.manual_seed(0)
    logits = (torch.randn(8, 3, dtype=torch.float64) * 20).requires_grad_()
    y = logits.detach().argmax(1)
    crit = rl.ACLS(strength=1.0, margin=2.0)
    opt = torch.optim.SGD([logits], lr=0.5)
    before = float(acls_penalty(logits.detach(), 1.0, 0.1, 2.0))
    for _ in range(50):
        opt.zero_grad()
        crit(logits, y).backward()
        opt.step()
    assert float(acls_penalty(logits.detach(), 1.0, 0.1, 2.0)) < 0.1 * before


def test_bad_arguments_and_inputs_raise():
    with pytest.raises(ValueError, match="margin must be > 0"):
        rl.ACLS(margin=0.0)
    with pytest.raises(ValueError, match="lambda2 must be >= 0"):
        rl.ACLS(lambda2=-1.0)
    with pytest.raises(ValueError, match="K >= 2"):
        acls_penalty(torch.zeros(3, 1))
