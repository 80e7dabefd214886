import copy

import pytest
import torch
import torch.nn.functional as F

import reglab as rl
from reglab.data.mixup import MixDraw


def batch(n=6, k=4, shape=(3, 5, 5), seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, *shape, generator=g, dtype=torch.float64)
    y = torch.randint(0, k, (n,), generator=g)
    return x, y


def loop_mixup(x, targets, lam, perm):
    """Each output row by the formula, one example at a time."""
    lam = torch.as_tensor(lam, dtype=torch.float64).expand(x.shape[0])
    xs, ys = [], []
    for i in range(x.shape[0]):
        j, w = int(perm[i]), float(lam[i])
        xs.append(w * x[i] + (1 - w) * x[j])
        ys.append(w * targets[i] + (1 - w) * targets[j])
    return torch.stack(xs), torch.stack(ys)


class FixedDraw(rl.Mixup):
    """Mixup with the draw replaced by given values: the documented test hook."""

    def __init__(self, lam, perm, **kwargs):
        super().__init__(**kwargs)
        self.fixed = MixDraw(torch.as_tensor(lam, dtype=torch.float64), perm)

    def draw(self, batch_size, device):
        return self.fixed


@pytest.mark.parametrize("per_sample", [False, True])
def test_every_element_equals_the_formula_for_given_lambda_and_permutation(per_sample):
    x, y = batch(n=7)
    perm = torch.tensor([3, 0, 6, 1, 1, 5, 2])  # any index map works, not only permutations
    lam = torch.linspace(0.05, 0.95, 7, dtype=torch.float64) if per_sample else torch.tensor(0.3)
    mix = FixedDraw(lam, perm, alpha=1.0, num_classes=4, per_sample=per_sample)
    x2, y2 = mix(x, y)
    xr, yr = loop_mixup(x, F.one_hot(y, 4).double(), lam, perm)
    torch.testing.assert_close(x2, xr, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(y2, yr, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(y2.sum(1), torch.ones(7, dtype=torch.float64))


@pytest.mark.parametrize("per_sample", [False, True])
def test_forward_uses_exactly_what_draw_returns(per_sample):
    x, y = batch(n=5)  # odd batch size
    g = torch.Generator().manual_seed(7)
    mix = rl.Mixup(alpha=0.4, num_classes=4, per_sample=per_sample, generator=g)
    state = g.get_state()
    lam, perm = mix.draw(5, x.device)
    g.set_state(state)
    x2, y2 = mix(x, y)
    assert lam.shape == ((5,) if per_sample else ())
    assert sorted(perm.tolist()) == list(range(5))
    xr, yr = loop_mixup(x, F.one_hot(y, 4).double(), lam, perm)
    torch.testing.assert_close(x2, xr, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(y2, yr, rtol=1e-12, atol=1e-12)


def test_per_sample_lambdas_differ_and_soft_targets_mix_too():
    x, _ = batch(n=9)
    soft = torch.softmax(torch.randn(9, 4, dtype=torch.float64), dim=1)
    mix = rl.Mixup(alpha=1.0, per_sample=True, generator=torch.Generator().manual_seed(1))
    lam, perm = mix.draw(9, x.device)
    assert lam.unique().numel() == 9
    x2, y2 = rl.functional.mixup(x, soft, lam, perm)
    torch.testing.assert_close(y2.sum(1), torch.ones(9, dtype=torch.float64))
    _, yr = loop_mixup(x, soft, lam, perm)
    torch.testing.assert_close(y2, yr)


@pytest.mark.parametrize("alpha", [0.2, 1.0])
def test_lambda_follows_beta_alpha_alpha(alpha):
    mix = rl.Mixup(alpha=alpha, per_sample=True, generator=torch.Generator().manual_seed(0))
    lam = mix.draw(40000, torch.device("cpu")).lam
    assert float(lam.mean()) == pytest.approx(0.5, abs=0.01)  # α / (2α)
    assert float(lam.var()) == pytest.approx(1 / (4 * (2 * alpha + 1)), rel=0.03)


def test_probability_p_leaves_that_share_of_examples_unmixed():
    mix = rl.Mixup(alpha=1.0, per_sample=True, p=0.3, generator=torch.Generator().manual_seed(0))
    lam = mix.draw(20000, torch.device("cpu")).lam
    assert float((lam == 1.0).double().mean()) == pytest.approx(0.7, abs=0.015)


def test_eval_mode_and_p_zero_return_inputs_and_one_hot_targets():
    x, y = batch()
    for mix in (rl.Mixup(0.4, 4).eval(), rl.Mixup(0.4, 4, p=0.0)):
        x2, y2 = mix(x, y)
        assert x2 is x
        assert torch.equal(y2, F.one_hot(y, 4).double())


def test_resume_from_state_dict_draws_the_same_next_mix():
    x, y = batch()
    mix = rl.Mixup(0.4, 4, per_sample=True, generator=torch.Generator().manual_seed(3))
    mix(x, y)
    state = copy.deepcopy(mix.state_dict())
    expected = mix(x, y)
    other = rl.Mixup(0.4, 4, per_sample=True, generator=torch.Generator().manual_seed(99))
    other.load_state_dict(state)
    got = other(x, y)
    assert torch.equal(got[0], expected[0]) and torch.equal(got[1], expected[1])


def test_bad_inputs_raise_clear_errors():
    x, y = batch()
    with pytest.raises(ValueError, match="need num_classes"):
        rl.Mixup(0.4)(x, y)
    with pytest.raises(ValueError, match=r"class labels in \[0, 3\)"):
        rl.Mixup(0.4, num_classes=3)(x, y + 3)
    with pytest.raises(ValueError, match="same batch size"):
        rl.Mixup(0.4, 4)(x, y[:-1])
    with pytest.raises(ValueError, match=r"shape \(N, 4\)"):
        rl.Mixup(0.4, 4)(x, torch.rand(6, 5, dtype=torch.float64))
    with pytest.raises(ValueError, match="alpha must be > 0"):
        rl.Mixup(alpha=0.0)
    with pytest.raises(TypeError, match="per_sample"):
        rl.Mixup(per_sample="yes")


@pytest.mark.parametrize(
    "row, why",
    [([0.5, 0.5, 0.5, 0.5], "sum 2"), ([1.5, -0.5, 0.0, 0.0], "min -0.5"),
     ([float("nan"), 1.0, 0.0, 0.0], "sum nan"), ([2.0, 0.1, -3.0, 0.4], "sum -0.5")],
)
def test_soft_targets_that_are_not_probability_vectors_are_refused(row, why):
    x, y = batch()
    soft = F.one_hot(y, 4).double()
    soft[2] = torch.tensor(row, dtype=torch.float64)
    message = rf"soft targets y must hold probability vectors.*row 2 = .*{why}"
    with pytest.raises(ValueError, match=message):
        rl.Mixup(0.4, 4)(x, soft)


@pytest.mark.parametrize(
    "dtype, off, accepted",
    [(torch.float64, 5e-7, True), (torch.float64, 1e-4, False), (torch.float32, 5e-6, True),
     (torch.float32, 1e-4, False), (torch.float16, 2e-3, True), (torch.float16, 2e-2, False),
     (torch.bfloat16, 1.5e-2, True), (torch.bfloat16, 1e-1, False)],
)
def test_row_sum_tolerance_follows_the_dtype(dtype, off, accepted):
    x = torch.randn(3, 5).to(dtype)
    soft = torch.tensor([[0.25, 0.25, 0.25, 0.25 + off]] * 3, dtype=torch.float64).to(dtype)
    mix = rl.Mixup(0.4, 4, generator=torch.Generator().manual_seed(0))
    if accepted:
        _, y2 = mix(x, soft)
        sums = y2.double().sum(1)  # a convex combination of rows summing to 1 + off
        atol = 1e-6 if dtype in (torch.float32, torch.float64) else 1e-2
        torch.testing.assert_close(sums, torch.full_like(sums, 1 + off), atol=atol, rtol=0)
    else:
        with pytest.raises(ValueError, match=f"within .* for {dtype}"):
            mix(x, soft)


def test_label_smoothed_and_softmax_targets_pass_in_every_dtype():
    g = torch.Generator().manual_seed(0)
    for dtype in (torch.float64, torch.float32, torch.float16, torch.bfloat16):
        x = torch.randn(16, 3, generator=g).to(dtype)
        soft = torch.randn(16, 100, generator=g).to(dtype).softmax(-1)
        smoothed = rl.LabelSmoothing(0.1, num_classes=100)(x, torch.randint(0, 100, (16,), generator=g))[1]
        for targets in (soft, smoothed):
            rl.Mixup(0.4, 100)(x, targets)  # no error: rounding is within the tolerance


@pytest.mark.parametrize("per_sample", [False, True])
def test_inplace_writes_the_same_mix_into_the_callers_batch(per_sample):
    x, y = batch(n=7)
    perm = torch.tensor([3, 0, 6, 1, 1, 5, 2])
    lam = torch.linspace(0.05, 0.95, 7, dtype=torch.float64) if per_sample else torch.tensor(0.3)
    xr, yr = loop_mixup(x, F.one_hot(y, 4).double(), lam, perm)
    mix = FixedDraw(lam, perm, alpha=1.0, num_classes=4, per_sample=per_sample, inplace=True)
    x_in = x.clone()
    x2, y2 = mix(x_in, y)
    assert x2 is x_in  # the caller's batch now holds the mix
    torch.testing.assert_close(x2, xr, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(y2, yr, rtol=1e-12, atol=1e-12)
    assert "inplace=True" in repr(mix)


def test_inplace_leaves_soft_targets_of_the_caller_untouched():
    x, _ = batch(n=5)
    soft = torch.softmax(torch.randn(5, 4, dtype=torch.float64), dim=1)
    kept = soft.clone()
    rl.Mixup(1.0, 4, generator=torch.Generator().manual_seed(0), inplace=True)(x, soft)
    assert torch.equal(soft, kept)


def test_inplace_must_be_a_bool():
    with pytest.raises(TypeError, match="inplace must be a bool"):
        rl.Mixup(inplace=1)
