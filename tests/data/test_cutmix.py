import itertools

import pytest
import torch
import torch.nn.functional as F

import reglab as rl
from reglab.data.cutmix import CutDraw, cutmix_boxes


def loop_cutmix(x, targets, lam, center, perm):
    """CutMix pixel by pixel from λ and centres, as the card states it."""
    n, spatial = x.shape[0], x.shape[2:]
    d = len(spatial)
    out, ys = x.clone(), []
    for i in range(n):
        b = i if lam.shape[0] == n else 0
        lo, hi = [], []
        for k, size in enumerate(spatial):
            side = int(size * (1 - float(lam[b])) ** (1 / d))
            start = int(center[b, k]) - side // 2
            lo.append(min(max(start, 0), size))
            hi.append(min(max(start + side, 0), size))
        pasted = 0
        for pix in itertools.product(*(range(s) for s in spatial)):
            if all(lo[k] <= pix[k] < hi[k] for k in range(d)):
                out[(i, slice(None), *pix)] = x[(int(perm[i]), slice(None), *pix)]
                pasted += 1
        a = pasted / torch.tensor(spatial).prod().item()
        ys.append((1 - a) * targets[i] + a * targets[int(perm[i])])
    return out, torch.stack(ys)


class FixedDraw(rl.CutMix):
    def __init__(self, fixed, **kwargs):
        super().__init__(**kwargs)
        self.fixed = fixed

    def draw(self, batch_size, spatial, device):
        return self.fixed


@pytest.mark.parametrize("per_sample", [False, True])
@pytest.mark.parametrize("shape", [(2, 5, 7), (3, 6, 6), (2, 11)], ids=["5x7", "6x6", "1d-11"])
def test_every_element_and_label_weight_match_the_pixel_loop(per_sample, shape):
    n = 5
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, *shape, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (n,), generator=g)
    spatial = shape[1:]
    b = n if per_sample else 1
    lam = torch.rand(b, generator=g, dtype=torch.float64)
    lam[0] = 0.02  # a box almost as large as the image, clipped on most sides
    center = torch.stack([torch.randint(0, s, (b,), generator=g) for s in spatial], dim=1)
    center[-1] = 0  # a box hanging over the corner
    perm = torch.tensor([4, 2, 0, 1, 3])
    mix = FixedDraw(CutDraw(lam, center, perm), num_classes=3, per_sample=per_sample)
    x2, y2 = mix(x, y)
    xr, yr = loop_cutmix(x, F.one_hot(y, 3).double(), lam, center, perm)
    assert torch.equal(x2, xr)
    torch.testing.assert_close(y2, yr, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(y2.sum(1), torch.ones(n, dtype=torch.float64))


def test_label_weight_is_the_pasted_fraction_not_the_drawn_lambda():
    lam = torch.tensor([0.75], dtype=torch.float64)  # a 4x4 box in an 8x8 image ...
    center = torch.tensor([[0, 0]])  # ... centred on the corner: only 2x2 pixels remain
    start, end = cutmix_boxes(lam, center, (8, 8))
    assert start.tolist() == [[0, 0]] and end.tolist() == [[2, 2]]
    x = torch.zeros(2, 1, 8, 8, dtype=torch.float64)
    x[1] = 1.0
    targets = F.one_hot(torch.tensor([0, 1]), 2).double()
    x2, y2 = rl.functional.cutmix(x, targets, start, end, torch.tensor([1, 0]))
    assert float(x2[0].sum()) == 4.0
    torch.testing.assert_close(y2[0], torch.tensor([60 / 64, 4 / 64], dtype=torch.float64))


@pytest.mark.parametrize("per_sample", [False, True])
def test_forward_uses_exactly_what_draw_returns(per_sample):
    g = torch.Generator().manual_seed(5)
    x = torch.randn(7, 3, 9, 6, dtype=torch.float64)
    y = torch.arange(7) % 4
    mix = rl.CutMix(alpha=1.0, num_classes=4, per_sample=per_sample, generator=g)
    state = g.get_state()
    lam, center, perm = mix.draw(7, (9, 6), x.device)
    g.set_state(state)
    x2, y2 = mix(x, y)
    xr, yr = loop_cutmix(x, F.one_hot(y, 4).double(), lam, center, perm)
    assert torch.equal(x2, xr)
    torch.testing.assert_close(y2, yr)


def test_mean_pasted_fraction_matches_the_exact_expectation():
    # For α = 1 the side in a 1-D signal of length L is ⌊L·u⌋ with u uniform, and the centre is
    # uniform; the expected clipped length follows by summing over a fine grid of u.
    length, n = 10, 40000
    mix = rl.CutMix(alpha=1.0, per_sample=True, generator=torch.Generator().manual_seed(0))
    lam, center, _ = mix.draw(n, (length,), torch.device("cpu"))
    start, end = cutmix_boxes(lam, center, (length,))
    measured = ((end - start).double().squeeze(1) / length).mean()
    us = (torch.arange(100000, dtype=torch.float64) + 0.5) / 100000
    sides = (length * us).floor().long()
    expected = 0.0
    for c in range(length):
        s = (c - sides // 2).clamp(0, length)
        e = (c - sides // 2 + sides).clamp(0, length)
        expected += float(((e - s).double() / length).mean()) / length
    assert float(measured) == pytest.approx(expected, abs=0.005)


def test_eval_mode_and_p_zero_are_identity_and_errors_are_clear():
    x, y = torch.randn(4, 3, 8, 8), torch.tensor([0, 1, 2, 3])
    for mix in (rl.CutMix(1.0, 4).eval(), rl.CutMix(1.0, 4, p=0.0, per_sample=True)):
        x2, y2 = mix(x, y)
        assert x2 is x and torch.equal(y2, F.one_hot(y, 4).float())
    with pytest.raises(ValueError, match="channels-first"):
        rl.CutMix(1.0, 4)(torch.randn(4, 8), y)
    with pytest.raises(ValueError, match="need num_classes"):
        rl.CutMix(1.0)(x, y)
    with pytest.raises(ValueError, match="same batch size"):
        rl.CutMix(1.0, 4)(x, y[:3])
    with pytest.raises(ValueError, match="alpha must be > 0"):
        rl.CutMix(alpha=-1.0)


@pytest.mark.parametrize("per_sample", [False, True])
@pytest.mark.parametrize("shape", [(2, 5, 7), (2, 11)], ids=["5x7", "1d-11"])
def test_inplace_pastes_the_same_boxes_into_the_callers_batch(per_sample, shape):
    n = 5
    g = torch.Generator().manual_seed(1)
    x = torch.randn(n, *shape, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (n,), generator=g)
    b = n if per_sample else 1
    lam = torch.rand(b, generator=g, dtype=torch.float64) * 0.8
    center = torch.stack([torch.randint(0, s, (b,), generator=g) for s in shape[1:]], dim=1)
    perm = torch.tensor([4, 2, 0, 1, 3])
    xr, yr = loop_cutmix(x, F.one_hot(y, 3).double(), lam, center, perm)
    mix = FixedDraw(CutDraw(lam, center, perm), num_classes=3, per_sample=per_sample, inplace=True)
    x_in = x.clone()
    x2, y2 = mix(x_in, y)
    assert x2 is x_in and torch.equal(x2, xr)
    torch.testing.assert_close(y2, yr)
    with pytest.raises(TypeError, match="inplace must be a bool"):
        rl.CutMix(inplace="yes")


def test_inplace_with_autograd_matches_the_out_of_place_gradient():
    g = torch.Generator().manual_seed(2)
    base = torch.randn(4, 2, 6, 6, generator=g, dtype=torch.float64, requires_grad=True)
    draw = CutDraw(torch.tensor([0.3, 0.5, 0.7, 0.9], dtype=torch.float64),
                   torch.tensor([[1, 2], [3, 3], [5, 0], [2, 4]]), torch.tensor([1, 2, 3, 0]))
    y = torch.tensor([0, 1, 2, 0])
    grads = []
    for inplace in (False, True):
        x = base * 1.0  # a non-leaf: in-place ops on it are recorded by autograd
        x2, _ = FixedDraw(draw, num_classes=3, per_sample=True, inplace=inplace)(x, y)
        (x2 * torch.arange(x2.numel(), dtype=torch.float64).reshape(x2.shape)).sum().backward()
        grads.append(base.grad.clone())
        base.grad = None
    torch.testing.assert_close(grads[0], grads[1])


def test_one_box_in_python_integers_equals_the_tensor_boxes():
    from reglab.data.cutmix import _one_box

    g = torch.Generator().manual_seed(0)
    for spatial in [(32, 32), (5, 7), (1, 9), (11,), (6, 6)]:
        lam = torch.rand(300, generator=g, dtype=torch.float64)
        lam[:4] = torch.tensor([0.0, 1.0, 0.75, 0.5], dtype=torch.float64)  # exact square roots
        center = torch.stack([torch.randint(0, s, (300,), generator=g) for s in spatial], dim=1)
        start, end = cutmix_boxes(lam, center, spatial)
        for i in range(300):
            got = _one_box(float(lam[i]), center[i].tolist(), spatial)
            assert got == (start[i].tolist(), end[i].tolist()), (spatial, float(lam[i]))
