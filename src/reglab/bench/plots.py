"""PNG plots of the report (matplotlib, Agg backend): learning curves and claim effects."""

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
        for label, runs in arms.items():
            series = [dict(r.get(metric, [])) for r in runs]
            steps = sorted(set.intersection(*(set(s) for s in series))) if series else []
            if not steps:
                continue
            values = [[s[t] for s in series] for t in steps]
            finite = [[v for v in vs if math.isfinite(v)] for vs in values]
            keep = [i for i, vs in enumerate(finite) if vs]
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
        ax.set_xlabel("step")
        ax.set_ylabel(metric)
        if metric.endswith("loss"):
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
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
    fig, axes = plt.subplots(len(results), 1, figsize=(8, 0.9 * len(results) + 0.6), squeeze=False)
    for ax, r in zip(axes[:, 0], results):
        c = r["checks"][0]
        low, high = c["low"], c["high"]
        color = colors.get(c["verdict"], "gray")  # the headline check's own verdict
        if c["n"] >= 2 and math.isfinite(low) and math.isfinite(high):
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
