"""A claim's checks are parsed with errors naming the nearest valid name or the rule broken."""

import pytest
from claim_fixtures import CLAIM

from reglab._core.registry import UnknownNameError
from reglab.bench.claims import parse_claim


@pytest.mark.parametrize(
    "change, error, message",
    [
        (
            {"checks": [{"measure": "test_acc", "arm": "l3", "above": 0}]},
            ValueError,
            "unknown arm 'l3' \\(did you mean 'l2'",
        ),
        (
            {"checks": [{"measure": "test_acc", "arm": "l2", "above": 0, "below": 1}]},
            ValueError,
            "one of above/below/within",
        ),
        (
            {"checks": [{"measure": "tst_acc", "arm": "l2", "above": 0}]},
            UnknownNameError,
            "unknown metric 'tst_acc'",
        ),
        (
            {"checks": [{"measure": "test_acc", "ratio": ["l2", "plain"], "within": 1}]},
            ValueError,
            "'within' applies to a difference",
        ),
    ],
)
def test_bad_checks_are_refused_with_the_nearest_names(change, error, message):
    with pytest.raises(error, match=message):
        parse_claim({**CLAIM, **change}, "x")
