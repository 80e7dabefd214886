"""``reglab report``: an HTML page and markdown tables with PNG plots, from the store only.

Sections: the claims (latest verdict of each claim per mode, with an effect plot and each
claim's learning curves per arm), then every other group of runs (same task, data options and
budget) with a table of final metrics and learning curves per arm, then the runs that did not
finish (diverged or failed, with their messages).

Intervals are clipped to the metric's range (marked ``*``); a censored claim effect (runs that
never reached a ``steps_to`` threshold) is shown as a bound, "≥ x" or "≤ x", with the count of
runs that never reached it. The report is written to a temporary folder beside ``out`` and moved
into place when complete, so an interrupted or failed write leaves the previous report intact.
"""

from __future__ import annotations

import html
import json
import math
import os
import shutil
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from reglab.bench._console import CLIPPED, CLIPPED_NOTE, censored_text
from reglab.bench.measures import RANGES
from reglab.bench.plots import curves_png, effects_png
from reglab.bench.stats import t_interval
from reglab.bench.store import RunRow, Store

TABLE_METRICS = ("test_acc", "train_acc", "train_loss", "step_ms")


def _fmt(x: float) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x:.4g}"


def _interval(c: dict[str, Any]) -> str:
    """A check's interval "[low, high]", or its one-sided bound when censored ("≤ high")."""
    bound = c.get("bound")
    if bound == "lower":
        return f"≥ {_fmt(c['low'])}"
    if bound == "upper":
        return f"≤ {_fmt(c['high'])}"
    if bound == "both":
        return "no bound (censored both ways)"
    return f"[{_fmt(c['low'])}, {_fmt(c['high'])}]" + (CLIPPED if c.get("clipped") else "")


def _effect(c: dict[str, Any]) -> str:
    """A check as "mean [low, high] (n=3) for <check>" or "≤ x (n=3) for <check> (3/3 b never...)"."""
    censored = censored_text(c)
    value = _interval(c) if c.get("bound") else f"{_fmt(c['mean'])} {_interval(c)}"
    return f"{value} (n={c['n']}) for {c['check']}" + (f" ({censored})" if censored else "")


def _experiment(row: RunRow) -> str:
    c = row.config
    return json.dumps([c.task, c.data, c.steps, c.batch_size, c.eval_every], sort_keys=True)


def _data_text(task: str, data: dict[str, Any]) -> str:
    """The data options that differ from the task's defaults, e.g. ", p=59, label_noise=0.1"."""
    from reglab._core.registry import UnknownNameError
    from reglab.bench._config import as_plain
    from reglab.bench.tasks import get_task

    try:
        defaults = as_plain(get_task(task).options())
    except UnknownNameError:
        defaults = {}
    return "".join(f", {k}={v}" for k, v in sorted(data.items()) if defaults.get(k, object()) != v)


def _labels(rows: list[RunRow]) -> dict[str, str]:
    """arm key -> recipe name plus the settings that differ between the group's arms."""
    flat: dict[str, dict[str, str]] = {}
    for r in rows:
        c = r.config
        items = {f"model.{k}": v for k, v in c.model.items()}
        items |= {f"optimizer.{k}": v for k, v in c.optimizer.items()}
        items["methods"] = json.dumps(c.methods, sort_keys=True)
        flat[c.arm_key] = {
            k: json.dumps(v) if not isinstance(v, str) else v for k, v in items.items()
        }
    varying = [
        k
        for k in next(iter(flat.values()), {})
        if len({f[k] for f in flat.values()}) > 1 and k != "methods"
    ]
    names = {r.config.arm_key: r.config.recipe for r in rows}
    labels = {}
    for arm, f in flat.items():
        differing = ", ".join(f"{k.split('.', 1)[1]}={f[k]}" for k in varying)
        labels[arm] = names[arm] + (f" ({differing})" if differing else "")
    return labels


def _metrics_table(groups: dict[str, list[RunRow]], labels: dict[str, str]) -> list[list[str]]:
    table = [["arm", "runs", *TABLE_METRICS]]
    for arm, rows in groups.items():
        done = [r for r in rows if r.status == "done"]
        cells = []
        for m in TABLE_METRICS:
            est = t_interval(
                [v for r in done if (v := r.value(m)) is not None and math.isfinite(v)],
                RANGES.get(m, (-math.inf, math.inf)),
            )
            interval = f"[{_fmt(est.low)}, {_fmt(est.high)}]" + (CLIPPED if est.clipped else "")
            cells.append(
                "-"
                if est.n == 0
                else _fmt(est.mean)
                if est.n < 2
                else f"{_fmt(est.mean)} {interval}"
            )
        stale = sum(r.stale for r in rows)  # made by other code (kept by --reuse-stale)
        runs = f"{len(done)}/{len(rows)}" + (f" ({stale} stale)" if stale else "")
        table.append([labels[arm], runs, *cells])
    return table


def _md(table: list[list[str]]) -> str:
    head, *body = table
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(
        lines + ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in body]
    )


def _html(table: list[list[str]]) -> str:
    head, *body = table
    # in a box of its own that scrolls sideways when the table is wider than a phone's screen
    out = '<div class="wide"><table><tr>'
    out += "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"
    for row in body:
        out += "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
    return out + "</table></div>"


class _Doc:
    """Markdown and HTML written side by side."""

    def __init__(self) -> None:
        self.md: list[str] = []
        self.html: list[str] = []

    def heading(self, text: str, level: int = 2) -> None:
        self.md.append(f"{'#' * level} {text}\n")
        self.html.append(f"<h{level}>{html.escape(text)}</h{level}>")

    def para(self, text: str) -> None:
        self.md.append(text + "\n")
        self.html.append(f"<p>{html.escape(text)}</p>")

    def table(self, rows: list[list[str]]) -> None:
        self.md.append(_md(rows) + "\n")
        self.html.append(_html(rows))

    def image(self, path: Path, alt: str) -> None:
        self.md.append(f"![{alt}]({path.name})\n")
        src = html.escape(path.name)  # a link to the full-size plot, in a box that scrolls
        self.html.append(f'<div class="wide plot"><a href="{src}"><img src="{src}" alt="{html.escape(alt)}"></a></div>')


def _claims(doc: _Doc, store: Store, rows: dict[str, RunRow], out: Path, used: set[str]) -> None:
    results = [r for _, mode, r in store.claims() if not mode.startswith("league")]
    if not results:
        return
    doc.heading("Claims")
    table = [
        ["claim", "mode", "paper", "measured effect [95% interval] (seeds) per check", "verdict"]
    ]
    for r in results:
        effects = [
            _effect(c) + (f": {c['verdict']}" if len(r["checks"]) > 1 else "") for c in r["checks"]
        ]
        table.append([r["id"], r["mode"], r["paper"], "; ".join(effects), r["verdict"]])
    doc.table(table)
    doc.image(effects_png(out / "effects.png", results), "claim effects")
    for r in results:
        doc.heading(f"{r['id']} ({r['mode']}): {r['verdict']}", 3)
        doc.para(r["statement"])
        doc.table(
            [["check", "mean", "95% interval", "n", "never reached", "verdict"]]
            + [
                [
                    c["check"],
                    _fmt(c["mean"]),
                    _interval(c),
                    str(c["n"]),
                    censored_text(c).removesuffix(" never reached it") or "-",
                    c["verdict"],
                ]
                for c in r["checks"]
            ]
        )
        for note in r["notes"]:
            doc.para(f"Note: {note}")
        if r.get("computed"):  # a compute claim (reglab.bench.computed_claims): its numbers
            names = list(dict.fromkeys(k for nums in r["computed"].values() for k in nums))
            doc.para(
                f"Computed by {r.get('compute', 'a function')}, one call per seed "
                f"({_fmt(r.get('compute_s', math.nan))} s in all):"
            )
            doc.table(
                [["seed", *names]]
                + [
                    [seed, *(_fmt(nums.get(k)) for k in names)]
                    for seed, nums in r["computed"].items()
                ]
            )
        arms = {
            arm: [store.curves(k) for k in keys if k in rows] for arm, keys in r["runs"].items()
        }
        used.update(k for keys in r["runs"].values() for k in keys)
        if any(arms.values()):
            doc.image(
                curves_png(
                    out / f"claim-{r['id']}-{r['mode']}.png", f"{r['id']} ({r['mode']})", arms
                ),
                f"curves of {r['id']}",
            )


def _leagues(doc: _Doc, store: Store, out: Path, used: set[str]) -> None:
    """A section per stored league table (``reglab compare``), with its plot."""
    from reglab.bench.compare import league_png

    results = [r for _, mode, r in store.claims() if mode.startswith("league")]
    for i, r in enumerate(results):
        if i == 0:
            doc.heading("League tables")
        doc.heading(f"{r['league']} on {r['task']} ({r['mode']})", 3)
        doc.para(
            f"{r['description']} Each method's strength is the best of {r['points']} values on a "
            f"validation split of the training set; then {r['seeds']} seeds at that value, "
            f"{r['steps']} steps, scored on the test set. Rank: 1 + the methods whose interval "
            f"lies wholly above (ties where intervals overlap). Cost: step time / {r['baseline']}'s."
        )
        doc.table(
            [["rank", "method", "chosen", "test_acc", "95% interval", "n", "cost"]]
            + [
                [
                    str(x["rank"]),
                    x["entry"],
                    "-" if x["param"] is None else f"{x['param']}={_fmt(x['pick'])}",
                    _fmt(x["mean"]),
                    f"[{_fmt(x['low'])}, {_fmt(x['high'])}]",
                    f"{x['n']}/{x['runs']}",
                    _fmt(x["cost"]) + "x",
                ]
                for x in r["rows"]
            ]
        )
        used.update(k for x in r["rows"] for k in x["keys"])
        doc.image(league_png(out / f"league-{i + 1}.png", r), f"league {r['league']}")


def write_report(store: Store, out: Path) -> Path:
    """Write ``out/index.html``, ``out/summary.md`` and the PNGs; returns the HTML path.

    The report is built in a temporary folder beside ``out`` and then replaces ``out`` whole
    (a previous report's files never mix with the new ones; a failed write leaves it intact).
    An existing ``out`` that is neither empty nor a report is refused, never deleted.
    """
    out = Path(out)
    if out.exists() and not _is_report(out):
        raise ValueError(
            f"report folder {out} exists and holds no report (no index.html or summary.md); "
            "give another --out"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; a report is meant to be read
        _write(store, tmp)
        _replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out / "index.html"


def _is_report(folder: Path) -> bool:
    if not folder.is_dir():
        return False
    names = {p.name for p in folder.iterdir()}
    return not names or bool(names & {"index.html", "summary.md"})


def _replace(new: Path, out: Path) -> None:
    """Move the folder ``new`` to ``out``, removing the old ``out`` only once ``new`` is there."""
    if not out.exists():
        new.rename(out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
    old.rmdir()
    out.rename(old)
    try:
        new.rename(out)
    except BaseException:
        old.rename(out)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _write(store: Store, out: Path) -> None:
    """Write the report's files into the (empty) folder ``out``."""
    all_rows = store.runs()
    rows = {r.key: r for r in all_rows}
    doc = _Doc()
    doc.heading("reglab report", 1)
    counts = defaultdict(int)
    for r in all_rows:
        counts[str(r.status)] += 1
    doc.para(
        f"Store {store.path}: {len(all_rows)} runs ("
        + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        + "). Intervals are 95% Student-t intervals over seeds; bands in the plots span the seeds' min to max. "
        + CLIPPED_NOTE
        + ". A censored effect (runs that never reached a steps_to threshold within their"
        " budget) is a one-sided bound, ≥ or ≤, with the count of such runs."
    )
    used: set[str] = set()
    _claims(doc, store, rows, out, used)
    _leagues(doc, store, out, used)
    experiments: dict[str, list[RunRow]] = defaultdict(list)
    for r in all_rows:
        if r.key not in used:
            experiments[_experiment(r)].append(r)
    if experiments:
        doc.heading("Other runs")
    for i, group in enumerate(experiments.values()):
        c = group[0].config
        title = f"{c.task}, {c.steps} steps" + _data_text(c.task, c.data)
        doc.heading(title, 3)
        arms: dict[str, list[RunRow]] = defaultdict(list)
        for r in group:
            arms[r.config.arm_key].append(r)
        labels = _labels(group)
        doc.table(_metrics_table(arms, labels))
        curves = {labels[a]: [store.curves(r.key) for r in rs] for a, rs in arms.items()}
        doc.image(curves_png(out / f"runs-{i + 1}.png", title, curves), f"curves of {c.task}")
    bad = [r for r in all_rows if r.status != "done"]
    if bad:
        doc.heading("Runs that did not finish")
        doc.table(
            [["task", "recipe", "seed", "status", "message"]]
            + [
                [r.config.task, r.config.recipe, str(r.config.seed), str(r.status), r.message]
                for r in bad
            ]
        )
    (out / "summary.md").write_text("\n".join(doc.md))
    # Readable on a phone (checked in headless Chromium by tests/bench/test_report_browser.py):
    # the viewport meta, a margin, tables and plots scrolling sideways inside their own box, and
    # plots kept at least 600 px wide there so that their labels stay legible.
    style = (
        "body{font-family:sans-serif;max-width:1100px;margin:auto;padding:0 12px;line-height:1.4}"
        " .wide{overflow-x:auto;margin:8px 0} table{border-collapse:collapse}"
        " td,th{border:1px solid #ccc;padding:3px 6px;font-size:13px;vertical-align:top}"
        " h1,h2,h3{overflow-wrap:anywhere} img{max-width:100%;height:auto;display:block}"
        " @media (max-width:700px){.plot img{min-width:600px}}"
    )
    page = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>reglab report</title><style>{style}</style></head><body>"
    )
    (out / "index.html").write_text(page + "\n".join(doc.html) + "</body></html>")
