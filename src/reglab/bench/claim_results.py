"""The record a judged check leaves in a claim's result: one shape for run-based checks
(``claim_verdicts``) and computed ones (``computed_claims``), stored as JSON and read by the report.
"""

from __future__ import annotations

from typing import Any

from reglab.bench.claim_kinds import Compare, Threshold
from reglab.bench.stats import Estimate, Verdict, judge


def check_result(
    text: str,
    compare: Compare,
    threshold: Threshold,
    value: float,
    est: Estimate,
    n: int,
    censored: dict[str, list[int]] | None = None,
) -> dict[str, Any]:
    """The check judged on ``est`` (inconclusive below two values): its text, kind, verdict,
    interval, count, whether the interval was clipped, its bound (censored runs) and, per arm,
    [runs that never reached the threshold, runs measured]."""
    verdict = judge(est, **{threshold.value: value}) if n >= 2 else Verdict.INCONCLUSIVE
    return {
        "check": text,
        "compare": str(compare),
        "verdict": str(verdict),
        "mean": est.mean,
        "low": est.low,
        "high": est.high,
        "n": n,
        "clipped": est.clipped,
        "bound": None if est.bound is None else str(est.bound),
        "censored": censored or {},
    }
