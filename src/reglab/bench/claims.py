"""Claims from the papers, as data: which runs to make and how to judge them.

The bundled file is ``reglab/bench/claims.yaml``; each claim has::

    id, paper, statement, task          what is claimed, on which task
    data / model / optimizer / budget   settings shared by the arms (override the task's)
    seeds                               how many seeds (0, 1, ..., n−1); arms are paired by seed
    arms                                label -> recipe name, or {recipe, data, model, optimizer, budget}
                                        (recipe: a name or an inline recipe mapping, named after
                                        the arm: {methods: [{spectral: {strength: 1.0e-3}}]})
    merges                              optional: label -> {kind, of, p}, arms built after training
                                        from the kept weights of other arms' runs (model soups,
                                        DARE; ``reglab.bench.merged_arms``); checks name them
                                        like arms, with final measures only
    checks                              a list; each has a measure (``reglab.bench.measures``) and
                                        one of  arm: A  |  difference: [A, B]  |  ratio: [A, B]
                                        with one of  above: v  |  below: v  |  within: m;
                                        optionally over_seeds: std | fraction_below(v), which
                                        judges one summary of each arm's seeds (their spread, the
                                        share of failed runs) with a paired bootstrap interval;
                                        or over_grid: range | min | max | mean with arm: [A, ...]
                                        or difference: [[A, ...], [B, ...]]: each seed's arms of a
                                        grid (one method at several strengths) summarized in one
                                        number (range: max − min, the sensitivity to the strength),
                                        then judged over seeds like one arm or a difference;
                                        over_grid: argmax_spread takes a 2-D grid, a list of
                                        rows ([[A1, A2, ...], [B1, B2, ...]]: one row a learning
                                        rate, its columns the strengths in increasing order):
                                        per seed, the column of each row's best value (ties:
                                        their mean column), and the summary is max − min of
                                        those columns over the rows, in grid steps (decades
                                        when the strengths are a decade apart): how far the
                                        best strength moves across the rows
    quick                               overrides for ``--quick`` ({seeds, budget, data, ...}), or
                                        {skip: reason}
    compute, args                       instead of arms: a claim judged on a computation's numbers
                                        (``module:function`` called as function(seed=s, **args)
                                        for each seed; checks: value: NAME | difference: [a, b] |
                                        ratio: [a, b]; see ``reglab.bench.computed_claims``)
    notes                               what was tried, and why the setup is what it is

Top-level keys starting with ``x-`` are ignored, so they can hold YAML anchors of shared settings.

The verdict rule and the intervals are those of ``reglab.bench.stats``; the first check is the
claim's headline effect. Intervals are clipped to the measure's range (a difference of
accuracies to [−1, 1]). A ``steps_to`` run that never reached its threshold is censored: the
check's result counts such runs per arm (``censored``) and its estimate becomes a one-sided
bound (``bound``: lower, upper or both), judged as ``reglab.bench.stats`` says.

This module is the harness's face for claims; the code lives in small modules:
``claim_kinds`` (the Enums of a check: ``Compare``, ``Threshold``, ``GridSummary``),
``claim_spec`` (the dataclasses ``Claim``, ``Arm``, ``Check``), ``claim_check_parsing`` and
``claim_parsing`` (the YAML into those, every name checked), ``claim_verdicts`` (``evaluate``:
a claim judged from the runs in a store).
"""

from __future__ import annotations

from reglab.bench.claim_check_parsing import CHECK_KEYS, parse_check
from reglab.bench.claim_kinds import (
    GRID_ROW_SUMMARIES,
    GRID_SUMMARIES,
    Compare,
    GridSummary,
    Threshold,
    argmax_spread,
)
from reglab.bench.claim_parsing import (
    ARM_KEYS,
    BUNDLED,
    CLAIM_KEYS,
    QUICK_KEYS,
    claims_using,
    load_claims,
    parse_claim,
    select_claims,
)
from reglab.bench.claim_spec import Arm, Check, Claim
from reglab.bench.claim_verdicts import evaluate, evaluate_computed

__all__ = [
    "ARM_KEYS",
    "BUNDLED",
    "CHECK_KEYS",
    "CLAIM_KEYS",
    "GRID_ROW_SUMMARIES",
    "GRID_SUMMARIES",
    "QUICK_KEYS",
    "Arm",
    "Check",
    "Claim",
    "Compare",
    "GridSummary",
    "Threshold",
    "argmax_spread",
    "claims_using",
    "evaluate",
    "evaluate_computed",
    "load_claims",
    "parse_check",
    "parse_claim",
    "select_claims",
]
