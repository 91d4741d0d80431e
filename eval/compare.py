"""Paired comparison of two runs scored on the same GT clips (``mmgt-eval compare RUN_A RUN_B``).

Both runs' replicates (eval/bootstrap.py) come from the same resampled clip multisets when the
runs evaluated the same clips with the same B and seed, so ``A_b - B_b`` over the replicates is the
paired bootstrap of the difference. Per output: the difference of the values, the 95% interval of
the replicate differences (centred on the difference, as eval/bootstrap.py's), and the verdict for A: ``better`` or ``worse`` (by the
metric's direction) when the interval excludes 0, ``tie`` when it spans 0. A run compared with
itself is a tie everywhere, with the interval ``[0, 0]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tabulate import tabulate

from eval.bootstrap import Bootstrap, percentile_interval
from eval.results import load_results
from mmgt.errors import DataError

TIE, BETTER, WORSE, UNRESOLVED = "tie", "better", "worse", "–"  # "–": a reference output, or no interval


@dataclass(frozen=True)
class Difference:
    """One output of A against B."""

    region: str
    output: str
    direction: str
    value_a: float
    value_b: float
    ci95: list[float] | None  # paired-bootstrap interval of A - B
    verdict: str  # for A: better, worse, tie, or – (none)

    @property
    def difference(self) -> float:
        return self.value_a - self.value_b


def verdict(ci95: list[float] | None, direction: str) -> str:
    """better / worse (for A) when the interval of A - B excludes 0, tie when it spans 0; – without interval or direction."""
    if ci95 is None or direction not in ("lower", "higher"):
        return UNRESOLVED
    lo, hi = ci95
    if lo <= 0 <= hi:
        return TIE
    return BETTER if (lo > 0) == (direction == "higher") else WORSE


def check_paired(a: Bootstrap, b: Bootstrap, where: Path) -> None:
    """Refuse (one line, naming ``where``, B's run) replicates that are not paired with ``a``'s."""
    if (a.B, a.seed) != (b.B, b.seed):
        raise DataError(where, f"bootstrap B={b.B}, seed={b.seed} differs from the other run's B={a.B}, seed={a.seed}; "
                               "evaluate both with the same --bootstrap and --bootstrap-seed")
    if a.clips != b.clips:
        only = sorted(set(a.clips) ^ set(b.clips))
        raise DataError(where, f"evaluated other clips than the other run ({len(b.clips)} vs {len(a.clips)}; e.g. "
                               f"{', '.join(only[:3])}); a paired comparison needs the same GT clips")


def paired_difference(a: Bootstrap, b: Bootstrap, key: str, difference: float) -> list[float] | None:
    """The paired 95% interval of A - B (of value ``difference``) for ``"region/output"``; None when either run
    has no replicates of it."""
    if key not in a.replicates or key not in b.replicates:
        return None
    return percentile_interval(a.replicates[key] - b.replicates[key], difference)


def compare(results_a: dict, boot_a: Bootstrap, results_b: dict, boot_b: Bootstrap) -> list[Difference]:
    """Every output both runs have a value for, A against B."""
    out = []
    for region, outs in results_a["metrics"].items():
        for name, entry in outs.items():
            other = results_b["metrics"].get(region, {}).get(name)
            if other is None or entry.get("value") is None or other.get("value") is None:
                continue
            ci = paired_difference(boot_a, boot_b, f"{region}/{name}", entry["value"] - other["value"])
            out.append(Difference(region, name, entry["direction"], entry["value"], other["value"], ci,
                                  verdict(ci, entry["direction"])))
    return out


def compare_runs(run_a: Path, run_b: Path) -> list[Difference]:
    """:func:`compare` of two run directories (each with results.json and bootstrap.npz)."""
    boot_a, boot_b = Bootstrap.load(run_a), Bootstrap.load(run_b)
    check_paired(boot_a, boot_b, Path(run_b))
    return compare(load_results(run_a), boot_a, load_results(run_b), boot_b)


def _number(v: float) -> str:
    return f"{v:.4g}" if v else "0"


def differences_table(diffs: list[Difference], fmt: str = "github") -> str:
    rows = [[d.region, d.output, _number(d.value_a), _number(d.value_b), _number(d.difference),
             "–" if d.ci95 is None else f"[{_number(d.ci95[0])}, {_number(d.ci95[1])}]", d.verdict] for d in diffs]
    headers = ["region", "metric", "A", "B", "A - B", "95% paired interval", "A is"]
    return tabulate(rows, headers=headers, tablefmt=fmt, disable_numparse=True)


__all__ = ["BETTER", "TIE", "UNRESOLVED", "WORSE", "Difference", "check_paired", "compare", "compare_runs",
           "differences_table", "paired_difference", "verdict"]
