import math

import pytest

from reglab._core.registry import Family
from reglab._core.validation import (
    check_choice,
    check_int,
    check_number,
    check_probability,
    check_strength,
    did_you_mean,
)
from reglab import schedules


@pytest.mark.parametrize(
    "kwargs, value, message",
    [
        ({"low": 0}, -0.1, "strength must be >= 0, got -0.1"),
        ({"low": 0, "low_open": True}, 0.0, "strength must be > 0, got 0.0"),
        ({"low": 0, "high": 1}, 1.5, "strength must be in [0, 1], got 1.5"),
        ({"low": 0, "high": 1, "high_open": True}, 1.0, "strength must be in [0, 1), got 1.0"),
        ({"low": 0}, math.nan, "strength must be a finite number >= 0, got nan"),
        ({"low": 0}, math.inf, "strength must be a finite number >= 0, got inf"),
    ],
)
def test_number_errors_name_argument_value_and_range(kwargs, value, message):
    with pytest.raises(ValueError) as info:
        check_number("strength", value, **kwargs)
    assert str(info.value) == message


def test_number_accepts_bounds_and_rejects_non_numbers():
    assert check_number("p", 0, low=0, high=1) == 0.0
    assert check_number("p", 1, low=0, high=1) == 1.0
    with pytest.raises(TypeError, match="p must be a number, got '0.5'"):
        check_number("p", "0.5")
    with pytest.raises(TypeError, match="must be a number"):
        check_number("p", True)


def test_int_rejects_floats_and_out_of_range():
    assert check_int("samples", 8, low=1) == 8
    with pytest.raises(TypeError, match="samples must be an integer"):
        check_int("samples", 8.0, low=1)
    with pytest.raises(ValueError, match=r"samples must be >= 1, got 0"):
        check_int("samples", 0, low=1)


def test_strength_checks_a_schedule_over_its_whole_range():
    s = schedules.linear(0.0, 0.5, steps=10)
    assert check_strength("smoothing", s, high=1, high_open=True) is s
    with pytest.raises(ValueError, match="reaching -0.2"):
        check_strength("strength", schedules.linear(1.0, -0.2, steps=3))
    with pytest.raises(ValueError, match=r"smoothing must be in \[0, 1\)"):
        check_strength("smoothing", 1.0, high=1, high_open=True)


def test_choice_accepts_values_names_and_members_and_suggests():
    assert check_choice("family", "loss", Family) is Family.LOSS
    assert check_choice("family", "LOSS", Family) is Family.LOSS
    assert check_choice("family", Family.LOSS, Family) is Family.LOSS
    with pytest.raises(ValueError, match="did you mean 'activity'"):
        check_choice("family", "activty", Family)


def test_did_you_mean_is_empty_when_nothing_is_close():
    assert did_you_mean("zzzz", ["mixup", "cutmix"]) == ""


@pytest.mark.parametrize(
    "kwargs, value, message",
    [
        ({}, 1.5, "p must be in [0, 1], got 1.5"),
        ({}, -0.1, "p must be in [0, 1], got -0.1"),
        ({"high_open": True}, 1.0, "p must be in [0, 1), got 1.0"),
        ({"low_open": True}, 0.0, "p must be in (0, 1], got 0.0"),
        ({"high_open": True}, math.nan, "p must be a finite number in [0, 1), got nan"),
    ],
)
def test_probability_errors_name_the_interval_with_its_openness(kwargs, value, message):
    with pytest.raises(ValueError) as info:
        check_probability("p", value, **kwargs)
    assert str(info.value) == message


def test_probability_accepts_the_closed_ends_it_allows():
    assert check_probability("p", 1) == 1.0 and check_probability("p", 0) == 0.0
    assert check_probability("p", 0.0, high_open=True) == 0.0
    with pytest.raises(TypeError, match="p must be a number, got None"):
        check_probability("p", None)
