import math

import pytest
from bench_helpers import tiny

from reglab._core.registry import UnknownNameError
from reglab.bench.measures import Measure
from reglab.bench.runs import Status
from reglab.bench.store import RunRow

ROW = RunRow("k", tiny(), Status.DONE, "", {"test_acc": 0.8}, 1.0, 3.5, {})
CURVE = [(0, 0.1), (10, 0.6), (20, 0.97), (30, 0.9)]


def test_final_max_min_and_step_time():
    assert Measure.parse("test_acc").of(ROW) == (0.8, False)
    assert Measure.parse("step_ms").of(ROW) == (3.5, False)
    assert Measure.parse("max(test_acc)").of(ROW, CURVE) == (0.97, False)
    assert Measure.parse("min( test_acc )").of(ROW, CURVE) == (0.1, False)
    mean_log = Measure.parse("mean_log(test_acc)").of(ROW, CURVE)[0]  # step 0 left out
    assert mean_log == pytest.approx((math.log(0.6) + math.log(0.97) + math.log(0.9)) / 3)
    assert math.isnan(Measure.parse("train_acc").of(ROW)[0])


def test_steps_to_is_the_first_evaluation_reaching_it_or_the_budget():
    assert Measure.parse("steps_to(test_acc >= 0.95)").of(ROW, CURVE) == (20.0, False)
    assert Measure.parse("steps_to(test_acc <= 0.1)").of(ROW, CURVE) == (0.0, False)
    assert Measure.parse("steps_to(test_acc >= 0.99)").of(ROW, CURVE) == (
        float(ROW.config.steps),
        True,
    )


@pytest.mark.parametrize(
    "text, error, message",
    [
        ("test_accuracy", UnknownNameError, "did you mean 'test_acc'"),
        ("max(step_ms)", UnknownNameError, "unknown metric 'step_ms'"),
        ("mean(test_acc)", ValueError, "write NAME, max\\(NAME\\), min\\(NAME\\), mean_log"),
        ("steps_to(test_acc > 0.9)", ValueError, "write NAME"),
    ],
)
def test_bad_measures(text, error, message):
    with pytest.raises(error, match=message):
        Measure.parse(text)


def test_measure_ranges():
    assert Measure.parse("test_acc").range == (0.0, 1.0)
    assert Measure.parse("max(train_acc)").range == (0.0, 1.0)
    assert Measure.parse("step_ms").range == (0.0, math.inf)
    assert Measure.parse("steps_to(test_acc >= 0.5)").range == (0.0, math.inf)
    assert Measure.parse("mean_log(train_loss)").range == (-math.inf, math.inf)
    assert Measure.parse("mean_log(test_acc)").range == (-math.inf, 0.0)
