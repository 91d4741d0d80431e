"""The report's plots: per metric group, each row's value with its 95% interval (error bar) over the row's
per-clip values (strip points; only metrics with per-clip values have them: FID/FVD/KVD/FGD/Div are set metrics)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from eval.results import UNTRAINED_MARK
from eval.table import ARROW, TABLE_COLUMNS
from mmgt.video_io import atomic_path


def measured_columns(runs: dict[str, dict]) -> dict[str, list[tuple[str, str, str]]]:
    """``{group: [(label, region, output), ...]}`` of the columns at least one row has a value in."""
    groups: dict[str, list[tuple[str, str, str]]] = {}
    for group, label, region, out in TABLE_COLUMNS:
        if any(res["metrics"].get(region, {}).get(out, {}).get("value") is not None for res in runs.values()):
            groups.setdefault(group, []).append((label, region, out))
    return groups


def group_plot(group: str, columns: list[tuple[str, str, str]], runs: dict[str, dict], per_clip: pd.DataFrame,
               out: Path) -> Path:
    """One PNG: a panel per column, rows on x; grey points per clip, the value and its interval in black."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(runs)
    fig, axes = plt.subplots(1, len(columns), figsize=(0.35 * len(names) * len(columns) + 1.5, 3.2), squeeze=False)
    rng = np.random.default_rng(0)  # the strip points' horizontal jitter
    for ax, (label, region, output) in zip(axes[0], columns):
        entries = [runs[m]["metrics"].get(region, {}).get(output, {}) for m in names]
        for x, (method, entry) in enumerate(zip(names, entries)):
            clips = per_clip[(per_clip["method"] == method) & (per_clip["region"] == region) & (per_clip["metric"] == output)]
            values = clips["value"].dropna().to_numpy(dtype=float)
            ax.scatter(x + rng.uniform(-0.15, 0.15, len(values)), values, s=6, color="0.6", zorder=1)
            if entry.get("value") is None:
                continue
            v = entry["value"]
            lo, hi = entry.get("ci95") or (v, v)
            ax.errorbar([x], [v], yerr=[[v - lo], [hi - v]], fmt="o", color="black", ms=4, capsize=3, zorder=2)
        untrained = UNTRAINED_MARK if any(e.get("untrained") for e in entries) else ""
        direction = next((ARROW.get(e["direction"], "") for e in entries if e.get("direction")), "")
        ax.set_title(f"{label}{direction}{untrained}", fontsize=8)
        ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
    fig.suptitle(group.rstrip("*"), fontsize=9)
    fig.tight_layout()
    with atomic_path(out, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=90)
    plt.close(fig)
    return out


def metric_plots(runs: dict[str, dict], per_clip: pd.DataFrame, out_dir: Path) -> list[Path]:
    """:func:`group_plot` of every metric group with a measured column, as ``out_dir/<group>.png``."""
    return [group_plot(group, columns, runs, per_clip, out_dir / f"{re.sub(r'[^a-z0-9]+', '', group.lower())}.png")
            for group, columns in measured_columns(runs).items()]
