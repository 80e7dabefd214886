import math

import pytest
import torch

from reglab import schedules
from reglab.schedules import Strength


def brute_cosine(start, end, steps, t):
    t = min(t, steps)
    return end + (start - end) * (1 + math.cos(math.pi * t / steps)) / 2


@pytest.mark.parametrize("t", [0, 1, 5, 9, 10, 11, 100])
def test_values_match_closed_forms(t):
    assert schedules.constant(0.3)(t) == 0.3
    assert schedules.linear(1.0, 0.0, steps=10)(t) == pytest.approx(max(0.0, 1 - t / 10))
    assert schedules.cosine(2.0, 0.5, steps=10)(t) == pytest.approx(brute_cosine(2.0, 0.5, 10, t))
    assert schedules.early(0.7, until=10)(t) == (0.7 if t < 10 else 0.0)
    assert schedules.late(0.7, after=10)(t) == (0.0 if t < 10 else 0.7)
    expected = 1.0 if t < 5 else (0.1 if t < 10 else 0.01)
    assert schedules.step([1.0, 0.1, 0.01], [5, 10])(t) == expected


def test_bounds_cover_all_values():
    for s in [schedules.linear(1, -1, 7), schedules.cosine(0, 3, 5), schedules.step([2, 0, 1], [3, 4]),
              schedules.early(0.2, 3), schedules.late(0.2, 3)]:
        lo, hi = s.bounds()
        values = [s(t) for t in range(12)]
        assert lo == pytest.approx(min(values)) and hi == pytest.approx(max(values))


def test_zero_length_ramp_is_the_end_value():
    assert schedules.linear(1.0, 0.0, steps=0)(0) == 0.0


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: schedules.linear(0, 1, steps=-1), "steps must be an integer >= 0"),
        (lambda: schedules.step([1.0], [3]), "one more entry"),
        (lambda: schedules.step([1, 2, 3], [5, 2]), "increasing"),
        (lambda: schedules.constant(float("nan")), "finite"),
        (lambda: schedules.early(0.1, until=2.5), "until|steps|boundaries"),
    ],
)
def test_bad_schedules_raise(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_strength_counter_is_state_and_resumes():
    a = Strength(schedules.linear(0.0, 1.0, steps=4))
    for _ in range(3):
        a.advance()
    b = Strength(schedules.linear(0.0, 1.0, steps=4))
    b.load_state_dict(a.state_dict())
    assert b() == a() == 0.75
    assert int(b.state_dict()["step"]) == 3
    assert Strength(0.0).always_zero and not Strength(schedules.late(1.0, 3)).always_zero
    assert b.step.dtype == torch.long
