"""``reglab report``: an HTML page and markdown tables with PNG plots, from the store only.

Sections: the claims (latest verdict of each claim per mode, with an effect plot and each
claim's learning curves per arm), then every other group of runs (same task, data options and
budget) with a table of final metrics and learning curves per arm, then the runs that did not
finish (diverged or failed, with their messages).
"""

from __future__ import annotations

import html
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from reglab.bench.plots import curves_png, effects_png
from reglab.bench.stats import t_interval
from reglab.bench.store import RunRow, Store

TABLE_METRICS = ("test_acc", "train_acc", "train_loss", "step_ms")


def _fmt(x: float) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x:.4g}"


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
                [v for r in done if (v := r.value(m)) is not None and math.isfinite(v)]
            )
            cells.append(
                "-"
                if est.n == 0
                else _fmt(est.mean)
                if est.n < 2
                else f"{_fmt(est.mean)} ± {_fmt((est.high - est.low) / 2)}"
            )
        table.append([labels[arm], f"{len(done)}/{len(rows)}", *cells])
    return table


def _md(table: list[list[str]]) -> str:
    head, *body = table
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(
        lines + ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in body]
    )


def _html(table: list[list[str]]) -> str:
    head, *body = table
    out = "<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"
    for row in body:
        out += "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
    return out + "</table>"


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
        self.html.append(f'<img src="{html.escape(path.name)}" alt="{html.escape(alt)}">')


def _claims(doc: _Doc, store: Store, rows: dict[str, RunRow], out: Path, used: set[str]) -> None:
    results = [r for _, _, r in store.claims()]
    if not results:
        return
    doc.heading("Claims")
    table = [
        ["claim", "mode", "paper", "measured effect [95% interval] (seeds) per check", "verdict"]
    ]
    for r in results:
        effects = [
            f"{_fmt(c['mean'])} [{_fmt(c['low'])}, {_fmt(c['high'])}] (n={c['n']}) for {c['check']}"
            + (f": {c['verdict']}" if len(r["checks"]) > 1 else "")
            for c in r["checks"]
        ]
        table.append([r["id"], r["mode"], r["paper"], "; ".join(effects), r["verdict"]])
    doc.table(table)
    doc.image(effects_png(out / "effects.png", results), "claim effects")
    for r in results:
        doc.heading(f"{r['id']} ({r['mode']}): {r['verdict']}", 3)
        doc.para(r["statement"])
        doc.table(
            [["check", "mean", "95% interval", "n", "verdict"]]
            + [
                [
                    c["check"],
                    _fmt(c["mean"]),
                    f"[{_fmt(c['low'])}, {_fmt(c['high'])}]",
                    str(c["n"]),
                    c["verdict"],
                ]
                for c in r["checks"]
            ]
        )
        for note in r["notes"]:
            doc.para(f"Note: {note}")
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


def write_report(store: Store, out: Path) -> Path:
    """Write ``out/index.html``, ``out/summary.md`` and the PNGs; returns the HTML path."""
    out.mkdir(parents=True, exist_ok=True)
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
        + "). Intervals are 95% Student-t intervals over seeds; bands in the plots span the seeds' min to max."
    )
    used: set[str] = set()
    _claims(doc, store, rows, out, used)
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
    style = (
        "body{font-family:sans-serif;max-width:1100px;margin:auto} table{border-collapse:collapse;margin:8px 0}"
        "td,th{border:1px solid #ccc;padding:3px 6px;font-size:13px} img{max-width:100%}"
    )
    page = f"<!doctype html><html><head><meta charset='utf-8'><title>reglab report</title><style>{style}</style></head><body>"
    index = out / "index.html"
    index.write_text(page + "\n".join(doc.html) + "</body></html>")
    return index
