"""PNG plots of the report (matplotlib, Agg backend): learning curves and claim effects.

A loss panel is drawn on a log axis from the positive finite values only (a group whose runs all
diverged gets a note instead of a curve); a censored claim effect is drawn as a one-sided bound
with the count of runs that never reached the threshold.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

CURVE_PANELS = ("test_acc", "train_loss")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def curves_png(
    path: Path, title: str, arms: dict[str, list[dict[str, list[tuple[int, float]]]]]
) -> Path:
    """One panel per metric of ``CURVE_PANELS``: each arm's mean over seeds, with a min–max band.

    ``arms``: label -> one curves dict (metric -> [(step, value)]) per seed.
    """
    plt = _pyplot()
    fig, axes = plt.subplots(
        1, len(CURVE_PANELS), figsize=(5 * len(CURVE_PANELS), 3.4), squeeze=False
    )
    for ax, metric in zip(axes[0], CURVE_PANELS):
        log = metric.endswith("loss")
        drawn = False
        for label, runs in arms.items():
            series = [dict(r.get(metric, [])) for r in runs]
            steps = sorted(set.intersection(*(set(s) for s in series))) if series else []
            values = [[s[t] for s in series] for t in steps]
            # a log axis shows positive values only; diverged runs leave NaN or inf behind
            finite = [[v for v in vs if math.isfinite(v) and (v > 0 or not log)] for vs in values]
            keep = [i for i, vs in enumerate(finite) if vs]
            if not keep:
                continue
            xs = [steps[i] for i in keep]
            mean = [sum(finite[i]) / len(finite[i]) for i in keep]
            line = ax.plot(xs, mean, label=f"{label} (n={len(runs)})")[0]
            ax.fill_between(
                xs,
                [min(finite[i]) for i in keep],
                [max(finite[i]) for i in keep],
                color=line.get_color(),
                alpha=0.2,
                linewidth=0,
            )
            drawn = True
        ax.set_xlabel("step")
        ax.set_ylabel(metric)
        if not drawn:
            what = "positive " if log else ""
            ax.text(
                0.5,
                0.5,
                f"no finite {what}values\n(runs diverged or failed)",
                ha="center",
                va="center",
                transform=ax.transAxes,
                fontsize=8,
            )
        elif log:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    if axes[0][0].get_legend_handles_labels()[0]:
        axes[0][0].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def effects_png(path: Path, results: list[dict[str, Any]]) -> Path:
    """One row per claim: the headline effect with its 95% interval and the check's threshold."""
    plt = _pyplot()
    colors = {"held": "tab:green", "not held": "tab:red", "inconclusive": "tab:orange"}
    fig, axes = plt.subplots(len(results), 1, figsize=(8, 1.1 * len(results) + 0.6), squeeze=False)
    for ax, r in zip(axes[:, 0], results):
        c = r["checks"][0]
        low, high = c["low"], c["high"]
        color = colors.get(c["verdict"], "gray")  # the headline check's own verdict
        bound = c.get("bound")
        if c["n"] >= 2 and bound in ("lower", "upper"):
            # a censored effect is a one-sided bound, never an interval: an arrow from it
            x = low if bound == "lower" else high
            ax.plot([x], [0], ">" if bound == "lower" else "<", color=color, markersize=8)
            ax.annotate(
                "",
                xy=(1.0 if bound == "lower" else 0.0, 0),
                xycoords=("axes fraction", "data"),
                xytext=(x, 0),
                arrowprops={"arrowstyle": "->", "color": color, "linestyle": ":"},
            )
        elif c["n"] >= 2 and bound is None and math.isfinite(low) and math.isfinite(high):
            ax.errorbar(
                [c["mean"]],
                [0],
                xerr=[[c["mean"] - low], [high - c["mean"]]],
                fmt="o",
                color=color,
                capsize=4,
            )
        elif c["n"]:
            ax.plot([c["mean"]], [0], "o", color=color)
        threshold = _threshold(c["check"])
        if threshold is not None:
            ax.axvline(threshold, color="gray", linestyle="--", linewidth=1)
        ax.set_yticks([])
        title = f"{r['id']} ({r['mode']}): {c['check']} -> {c['verdict']}; claim {r['verdict']}"
        censored = [f"{k}/{n} {arm}" for arm, (k, n) in (c.get("censored") or {}).items()]
        if censored:
            sign = "≥" if bound == "lower" else "≤" if bound == "upper" else "no bound:"
            x = low if bound == "lower" else high
            title += f"\n{sign} {x:.3g}: {', '.join(censored)} never reached the threshold"
        ax.set_title(title, fontsize=8, loc="left")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _threshold(text: str) -> float | None:
    for word in (" above ", " below ", " within "):
        if word in text:
            try:
                return float(text.rsplit(word, 1)[1])
            except ValueError:
                return None
    return None
