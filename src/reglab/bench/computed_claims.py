"""Claims judged on a computation's numbers instead of training runs (``compute:`` claims).

A claim whose result is not a set of training runs (HOAG against a grid search: a few convex
solves and scikit-learn fits) names a function and the numbers to check::

    - id: hypergradient-near-grid
      compute: reglab.tune.hoag_vs_grid:hoag_vs_grid     # module:function
      args: {max_iter: 12}                                # keyword arguments besides seed
      seeds: 3                                            # calls function(seed=s, **args)
      checks:
        - {value: decades_apart, below: 0.5}              # one returned number
        - {ratio: [fits_hoag, fits_grid], below: 1.0}     # or difference: [a, b]

The function returns a mapping of numbers (other entries are kept out of the checks). Each check
takes one number per seed (a value, a difference or a ratio of two of them) and is judged like a
run-based check (``reglab.bench.stats``): the 95% Student-t interval over seeds (ratios: of the
logs), unclipped; fewer than 2 seeds is inconclusive. The numbers of every call are kept in
the claim's result (``computed``: seed -> numbers), which the store and the report show.
A computation is made again each time the claim is evaluated (no cache: it has no run key).

>>> check = parse_value_check({"ratio": ["fits_hoag", "fits_grid"], "below": 1.0}, "x")
>>> check.text
'fits_hoag / fits_grid below 1'
>>> r = judge_values(check, {0: {"fits_hoag": 60, "fits_grid": 100},
...                          1: {"fits_hoag": 55, "fits_grid": 100}})
>>> r["verdict"], round(r["mean"], 3)
('held', 0.574)
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from reglab.bench._config import check_keys
from reglab.bench.claim_kinds import Compare, Threshold
from reglab.bench.claim_results import check_result
from reglab.bench.stats import ratio_interval, t_interval

VALUE_CHECK_KEYS = ("value", "difference", "ratio", "above", "below", "within")


@dataclass(frozen=True)
class ValueCheck:
    """A check on a computation's returned numbers: one value, or a difference / ratio of two."""

    names: tuple[str, ...]
    compare: Compare
    threshold: Threshold
    value: float

    @property
    def text(self) -> str:
        if self.compare is Compare.LEVEL:
            what = self.names[0]
        else:
            what = f" {self.compare.sign} ".join(self.names)
        return f"{what} {self.threshold} {self.value:g}"

    def of(self, numbers: Mapping[str, Any]) -> float:
        """This check's number from one call's output (NaN when missing or not a number)."""
        vals = []
        for name in self.names:
            v = numbers.get(name)
            ok = isinstance(v, (int, float)) and not isinstance(v, bool)
            vals.append(float(v) if ok else math.nan)
        if self.compare is Compare.LEVEL:
            return vals[0]
        if self.compare is Compare.DIFFERENCE:
            return vals[0] - vals[1]
        return vals[0] / vals[1] if vals[1] != 0 else math.nan


def parse_value_check(raw: object, where: str) -> ValueCheck:
    d = check_keys(raw, VALUE_CHECK_KEYS, where)
    compares = [k for k in ("value", "difference", "ratio") if k in d]
    thresholds = [t for t in Threshold if t in d]
    if len(compares) != 1 or len(thresholds) != 1:
        raise ValueError(
            f"{where}: give one of value/difference/ratio and one of above/below/within"
        )
    key = compares[0]  # value (a level), difference or ratio
    compare = Compare.LEVEL if key == "value" else Compare(key)
    threshold = thresholds[0]
    names = [d[key]] if compare is Compare.LEVEL else d[key]
    if (
        not isinstance(names, list)
        or len(names) != (1 if compare is Compare.LEVEL else 2)
        or not all(isinstance(n, str) and n for n in names)
    ):
        raise ValueError(
            f"{where}: {key} needs "
            f"{'a returned name' if compare is Compare.LEVEL else 'two returned names [a, b]'}, "
            f"got {d[key]!r}"
        )
    if threshold is Threshold.WITHIN and compare is not Compare.DIFFERENCE:
        raise ValueError(f"{where}: 'within' applies to a difference")
    bound = d[threshold]
    if isinstance(bound, bool) or not isinstance(bound, (int, float)):
        raise ValueError(f"{where}: {threshold} must be a number, got {bound!r}")
    return ValueCheck(tuple(names), compare, threshold, float(bound))


def load_compute(spec: object, where: str) -> Callable[..., Mapping[str, Any]]:
    """The function named ``module:function``; a clear error when it cannot be imported."""
    if not isinstance(spec, str) or spec.count(":") != 1 or not all(spec.split(":")):
        raise ValueError(f"{where}: compute must be 'module:function', got {spec!r}")
    module, name = spec.split(":")
    try:
        fn = getattr(importlib.import_module(module), name)
    except ImportError as e:
        raise ValueError(f"{where}: compute {spec!r}: cannot import {module!r} ({e})") from None
    except AttributeError:
        raise ValueError(f"{where}: compute {spec!r}: {module!r} has no {name!r}") from None
    if not callable(fn):
        raise ValueError(f"{where}: compute {spec!r} is not callable")
    return fn


def judge_values(check: ValueCheck, outputs: Mapping[int, Mapping[str, Any]]) -> dict[str, Any]:
    """One check judged over the seeds' outputs; the dict of a run-based check's result."""
    values = [check.of(outputs[s]) for s in sorted(outputs)]
    values = [v for v in values if math.isfinite(v)]
    if check.compare is Compare.RATIO and all(v > 0 for v in values):
        est = ratio_interval(values)
    elif check.compare is Compare.RATIO:
        est = t_interval([])  # a ratio of numbers of mixed sign has no log interval
    else:
        est = t_interval(values)
    return check_result(check.text, check.compare, check.threshold, check.value, est, est.n)


def numbers_of(output: object, where: str) -> dict[str, float]:
    """The numeric entries of a computation's output (the rest, e.g. histories, left out)."""
    if not isinstance(output, Mapping):
        raise ValueError(f"{where}: compute must return a mapping, got {type(output).__name__}")
    return {
        str(k): float(v)
        for k, v in output.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool)
    }
