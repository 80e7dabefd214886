"""Parsing ``claims.yaml`` (described in ``reglab.bench.claims``) into ``Claim``s
(``reglab.bench.claim_spec``), every name checked: tasks, recipes, methods, measures, arms,
merges, computed claims' functions; and looking claims up (by id, by the methods they use).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from reglab._core.registry import UnknownNameError
from reglab._core.validation import check_int, did_you_mean
from reglab.bench._config import check_keys, numbers
from reglab.bench.claim_check_parsing import parse_check
from reglab.bench.claim_spec import Arm, Check, Claim, settings_of
from reglab.bench.computed_claims import load_compute, parse_value_check
from reglab.bench.final_measures import OPTIONAL_MEASURES
from reglab.bench.merged_arms import MERGED_METRICS, Merge, check_members, parse_merge
from reglab.bench.recipes import load_recipe, parse_recipe
from reglab.bench.runs import Settings

BUNDLED = Path(__file__).with_name("claims.yaml")
CLAIM_KEYS = (
    "id",
    "paper",
    "statement",
    "task",
    "data",
    "model",
    "optimizer",
    "budget",
    "seeds",
    "arms",
    "merges",
    "checks",
    "quick",
    "notes",
    "compute",
    "args",
)
ARM_KEYS = ("recipe", "data", "model", "optimizer", "budget")
QUICK_KEYS = ("seeds", "data", "model", "optimizer", "budget", "skip")


def _parse_computed(d: dict[str, Any], where: str) -> Claim:
    """A ``compute:`` claim: a function's numbers over seeds, no arms or runs."""
    missing = [k for k in ("id", "paper", "statement", "compute", "checks") if k not in d]
    if missing:
        raise ValueError(f"{where}: missing {', '.join(missing)}")
    where = f"claim {d['id']!r}"
    extra = [k for k in ("arms", "merges", "data", "model", "optimizer", "budget") if k in d]
    if extra:
        raise ValueError(f"{where}: a compute claim has no {', '.join(extra)}")
    load_compute(d["compute"], where)  # an unknown module or function fails here
    args = d.get("args") or {}
    if not isinstance(args, dict) or "seed" in args:
        raise ValueError(f"{where}: args must be a mapping of keyword arguments besides seed")
    checks = tuple(
        parse_value_check(c, f"{where} check {i + 1}") for i, c in enumerate(d["checks"] or [])
    )
    if not checks:
        raise ValueError(f"{where}: needs at least one check")
    quick = check_keys(d.get("quick") or {}, ("seeds", "skip"), f"{where} quick")
    if "seeds" in quick:
        check_int(f"{where} quick seeds", quick["seeds"], low=1)
    return Claim(
        str(d["id"]),
        str(d["paper"]),
        " ".join(str(d["statement"]).split()),
        str(d.get("task", "")),
        settings_of({}),
        check_int(f"{where} seeds", d.get("seeds", 3), low=1),
        {},
        checks,  # type: ignore[arg-type]
        quick,
        str(d.get("notes", "")),
        compute=str(d["compute"]),
        args=dict(args),
    )


def parse_claim(raw: object, where: str) -> Claim:
    """One claim from its YAML mapping; ``where`` (the file and entry) prefixes its errors."""
    d = check_keys(raw, CLAIM_KEYS, where)
    if "compute" in d:
        return _parse_computed(d, where)
    if "args" in d:
        raise ValueError(f"{where}: args applies to a compute claim")
    missing = [k for k in ("id", "paper", "statement", "task", "arms", "checks") if k not in d]
    if missing:
        raise ValueError(f"{where}: missing {', '.join(missing)}")
    where = f"claim {d['id']!r}"
    arms: dict[str, Arm] = {}
    for label, arm in (d["arms"] or {}).items():
        a = (
            {"recipe": arm}
            if isinstance(arm, str)
            else check_keys(arm, ARM_KEYS, f"{where} arm {label!r}")
        )
        recipe = a.get("recipe", "none")
        if isinstance(recipe, dict):  # an inline recipe, named after its arm
            recipe = parse_recipe(recipe, str(label), f"{where} arm {label!r} recipe")
        else:
            load_recipe(recipe)  # unknown recipe or method names fail here
        arms[str(label)] = Arm(recipe, settings_of(a))
    merges: dict[str, Merge] = {}
    for label, m in (d.get("merges") or {}).items():
        if str(label) in arms:
            raise ValueError(f"{where}: merged arm {label!r} has the name of a trained arm")
        merges[str(label)] = parse_merge(m, list(arms), f"{where} merge {label!r}")
    checks = tuple(
        parse_check(c, {**arms, **merges}, f"{where} check {i + 1}")
        for i, c in enumerate(d["checks"] or [])
    )
    if not checks:
        raise ValueError(f"{where}: needs at least one check")
    for i, c in enumerate(checks):
        if any(a in merges for a in c.arms) and (
            c.measure.needs_curve or c.measure.metric not in MERGED_METRICS
        ):
            raise ValueError(
                f"{where} check {i + 1}: a merged arm has only the final metrics "
                f"{', '.join(MERGED_METRICS)}, got {c.measure.text!r}"
            )
    quick = check_keys(d.get("quick") or {}, QUICK_KEYS, f"{where} quick")
    if "seeds" in quick:
        check_int(f"{where} quick seeds", quick["seeds"], low=1)
    claim = Claim(
        str(d["id"]),
        str(d["paper"]),
        " ".join(str(d["statement"]).split()),
        str(d["task"]),
        _with_optional_measures(settings_of(d), checks),
        check_int(f"{where} seeds", d.get("seeds", 3), low=1),
        arms,
        checks,
        quick,
        str(d.get("notes", "")),
        merges,
    )
    if claim.quick_skip is None:
        quick_configs = claim.configs(quick=True)  # unknown task, options or budgets fail here
        for label, m in merges.items():
            check_members(m, quick_configs, f"{where} merge {label!r}")
    full = claim.configs(quick=False)
    for label, m in merges.items():
        check_members(m, full, f"{where} merge {label!r}")
    return claim


def _with_optional_measures(shared: Settings, checks: tuple[Check, ...]) -> Settings:
    """``shared`` asking its runs for the costly end-of-run measures the checks name."""
    wanted = {c.measure.metric for c in checks} & set(OPTIONAL_MEASURES)
    if not wanted:
        return shared
    measures = sorted(wanted | set(shared.budget.get("measures") or ()))
    return replace(shared, budget={**shared.budget, "measures": measures})


def load_claims(path: str | Path | None = None) -> list[Claim]:
    """The claims of ``path`` (default: the bundled file), every name checked."""
    path = Path(path) if path is not None else BUNDLED
    if not path.exists():
        raise FileNotFoundError(f"claims file {path} does not exist")
    try:
        data = numbers(yaml.safe_load(path.read_text()))
    except yaml.YAMLError as e:
        raise ValueError(f"claims file {path} is not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ValueError(f"claims file {path} must be a mapping with a 'claims' list")
    shared = {k: v for k, v in data.items() if not str(k).startswith("x-")}  # x-*: YAML anchors
    body = check_keys(shared, ("claims", "verdict_rule"), f"claims file {path}")
    claims = [
        parse_claim(c, f"claims file {path}, entry {i + 1}")
        for i, c in enumerate(body.get("claims") or [])
    ]
    ids = [c.id for c in claims]
    if len(set(ids)) != len(ids):
        raise ValueError(f"claims file {path}: duplicate claim ids")
    return claims


def claims_using(method: str, path: str | Path | None = None) -> list[str]:
    """Ids of the claims (default: the bundled file) with an arm whose recipe uses ``method``.

    Read from the file's arms and recipes only, without resolving runs (``reglab show``).
    """
    data = yaml.safe_load(Path(path or BUNDLED).read_text()) or {}
    ids = []
    for claim in data.get("claims") or []:
        for arm in (claim.get("arms") or {}).values():
            recipe = arm if isinstance(arm, str) else (arm or {}).get("recipe", "none")
            inline = isinstance(recipe, dict)
            spec = parse_recipe(recipe, "inline") if inline else load_recipe(recipe)
            if any(m.name == method for m in spec.methods):
                ids.append(str(claim["id"]))
                break
    return ids


def select_claims(claims: list[Claim], ids: list[str]) -> list[Claim]:
    by_id = {c.id: c for c in claims}
    for i in ids:
        if i not in by_id:
            raise UnknownNameError(
                f"unknown claim {i!r}{did_you_mean(i, by_id)}; claims: {', '.join(by_id)}"
            )
    return [by_id[i] for i in ids] if ids else claims

