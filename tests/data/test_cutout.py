import itertools

import pytest
import torch
import torch.nn.functional as F

import reglab as rl


def loop_cutout(x, centers, size):
    """Zero each hole pixel by pixel; centres (N, holes, d)."""
    out = x.clone()
    spatial = x.shape[2:]
    for i in range(x.shape[0]):
        for hole in centers[i]:
            lo = [int(c) - size // 2 for c in hole]
            for pix in itertools.product(*(range(s) for s in spatial)):
                if all(lo[k] <= pix[k] < lo[k] + size for k in range(len(spatial))):
                    out[(i, slice(None), *pix)] = 0
    return out


def expected_fraction(spatial, size, holes):
    """Exact E[zeroed fraction]: centres uniform over pixels, holes independent."""
    covers = []
    for length in spatial:  # q[pos] = P(a hole's range covers pos) in this dimension
        q = torch.zeros(length, dtype=torch.float64)
        for c in range(length):
            lo = c - size // 2
            q[max(lo, 0) : max(min(lo + size, length), 0)] += 1 / length
        covers.append(q)
    p = covers[0]
    for q in covers[1:]:
        p = p[..., None] * q
    return float((1 - (1 - p) ** holes).mean())


@pytest.mark.parametrize("shape", [(2, 6, 7), (1, 12)], ids=["2d", "1d"])
@pytest.mark.parametrize("size", [1, 3, 4, 20])
def test_zeroed_pixels_match_the_pixel_loop_including_the_border(shape, size):
    g = torch.Generator().manual_seed(size)
    x = torch.randn(5, *shape, generator=g) + 10  # no accidental zeros
    cut = rl.Cutout(size=size, num_holes=2, generator=g)
    state = g.get_state()
    centers = cut.draw(5, shape[1:], x.device)
    g.set_state(state)
    x2, _ = cut(x, torch.zeros(5, dtype=torch.long))
    assert torch.equal(x2, loop_cutout(x, centers, size))


def test_holes_at_the_corners_are_clipped():
    x = torch.ones(2, 1, 6, 6)
    start = torch.tensor([[[0, 0]], [[4, 5]]])
    end = torch.tensor([[[2, 2]], [[6, 6]]])
    x2 = rl.functional.cutout(x, start, end)
    assert (x2[0] == 0).sum() == 4 and (x2[1] == 0).sum() == 2


@pytest.mark.parametrize(
    ("spatial", "size", "holes"), [((8, 8), 4, 1), ((8, 8), 3, 2), ((40,), 8, 1)]
)
def test_zeroed_fraction_is_near_its_expectation(spatial, size, holes):
    n = 20000
    cut = rl.Cutout(size=size, num_holes=holes, generator=torch.Generator().manual_seed(0))
    x = torch.ones(n, 1, *spatial)
    x2, _ = cut(x, torch.zeros(n, dtype=torch.long))
    measured = float((x2 == 0).double().mean())
    assert measured == pytest.approx(expected_fraction(spatial, size, holes), abs=0.003)


def test_labels_pass_through_or_become_one_hot():
    x, y = torch.randn(3, 2, 5, 5, dtype=torch.float64), torch.tensor([2, 0, 1])
    _, same = rl.Cutout(size=2)(x, y)
    assert same is y
    _, soft = rl.Cutout(size=2, num_classes=3)(x, y)
    assert torch.equal(soft, F.one_hot(y, 3).double())


def test_size_zero_and_eval_mode_are_identity_and_bad_inputs_raise():
    x, y = torch.randn(3, 2, 5, 5), torch.tensor([2, 0, 1])
    assert rl.Cutout(size=0)(x, y)[0] is x
    assert rl.Cutout(size=3).eval()(x, y)[0] is x
    with pytest.raises(ValueError, match="channels-first"):
        rl.Cutout(size=2)(torch.randn(3, 5), y)
    with pytest.raises(ValueError, match="same batch size"):
        rl.Cutout(size=2)(x, y[:2])
    with pytest.raises(ValueError, match="size must be >= 0"):
        rl.Cutout(size=-2)
