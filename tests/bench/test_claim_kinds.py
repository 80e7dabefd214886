"""The check kinds of claims are Enums whose values are the words of claims.yaml."""

import json
import statistics

import pytest

from reglab.bench.claim_kinds import (
    GRID_ROW_SUMMARIES,
    GRID_SUMMARIES,
    Compare,
    GridSummary,
    Threshold,
    argmax_spread,
)
from reglab.bench.claim_spec import Check, is_over_seeds
from reglab.bench.claims import parse_check
from reglab.bench.computed_claims import parse_value_check
from reglab.bench.measures import Measure

ARMS = {"a": None, "b": None, "c": None}


@pytest.mark.parametrize(
    ("raw", "compare", "threshold"),
    [
        ({"measure": "test_acc", "arm": "a", "above": 0.5}, Compare.LEVEL, Threshold.ABOVE),
        ({"measure": "test_acc", "difference": ["a", "b"], "within": 0.1},
         Compare.DIFFERENCE, Threshold.WITHIN),
        ({"measure": "test_loss", "ratio": ["a", "b"], "below": 1}, Compare.RATIO, Threshold.BELOW),
    ],
)
def test_a_parsed_check_holds_members_equal_to_the_yaml_words(raw, compare, threshold):
    check = parse_check(raw, ARMS, "x")
    assert check.compare is compare and check.threshold is threshold
    assert json.dumps([check.compare, check.threshold]) == json.dumps([str(compare), str(threshold)])


def test_a_value_check_of_a_computed_claim_holds_members():
    check = parse_value_check({"value": "gap", "below": 0.5}, "x")
    assert check.compare is Compare.LEVEL and check.threshold is Threshold.BELOW
    ratio = parse_value_check({"ratio": ["a", "b"], "above": 2}, "x")
    assert ratio.compare is Compare.RATIO and ratio.text == "a / b above 2"


def test_grid_summaries_against_plain_definitions():
    values = [0.3, 0.9, 0.6, 0.2]
    assert GRID_SUMMARIES[GridSummary.RANGE](values) == max(values) - min(values)
    assert GRID_SUMMARIES[GridSummary.MIN](values) == 0.2
    assert GRID_SUMMARIES[GridSummary.MAX](values) == 0.9
    assert GRID_SUMMARIES[GridSummary.MEAN](values) == pytest.approx(statistics.mean(values))
    assert GRID_ROW_SUMMARIES[GridSummary.ARGMAX_SPREAD] is argmax_spread
    assert [k.takes_rows for k in GridSummary] == [False] * 4 + [True]
    # ties take the mean column: rows best at column 2, at columns 0 and 2 (→ 1), at column 0
    assert argmax_spread([[0, 1, 2], [5, 1, 5], [3, 2, 1]]) == 2.0


def test_an_over_grid_check_holds_its_summary_and_an_unknown_one_is_refused():
    raw = {"measure": "test_acc", "over_grid": "range", "arm": ["a", "b", "c"], "below": 0.1}
    check = parse_check(raw, ARMS, "x")
    assert check.over_grid is GridSummary.RANGE and check.compare is Compare.LEVEL
    assert check.text == "range over the grid of test_acc of [a, b, c] below 0.1"
    with pytest.raises(ValueError, match="over_grid must be one of range, min, max, mean, "
                                         "argmax_spread, got 'spread'"):
        parse_check({**raw, "over_grid": "spread"}, ARMS, "x")


@pytest.mark.parametrize(
    ("compare", "arms", "text"),
    [
        (Compare.LEVEL, ("a",), "test_acc of a above 0.5"),
        (Compare.DIFFERENCE, ("a", "b"), "test_acc: a − b above 0.5"),
        (Compare.RATIO, ("a", "b"), "test_acc: a / b above 0.5"),
    ],
)
def test_check_text_reads_as_the_yaml(compare, arms, text):
    assert Check(Measure.parse("test_acc"), arms, compare, Threshold.ABOVE, 0.5).text == text


def test_over_seeds_words():
    assert is_over_seeds("std") and is_over_seeds("fraction_below(0.5)")
    assert not is_over_seeds("var") and not is_over_seeds(["std"])
