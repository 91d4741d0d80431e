"""Cross-machine reproduction of a table, checked against the values' intervals.

Bit-exact (any machine, same code and inputs): the reference rows (``gt``, ``still``), whose videos
do not depend on float kernels, and so every metric of them. Only statistically reproducible: the
generated rows. Their frames differ in float rounding between CPU instruction sets (torch picks its
kernels per instruction set; results.json records ``environment.cpu_capability``), and a diffusion
sampler amplifies that into another sample. A regenerated value of a generated row is accepted when
it lies within ``TOLERANCE`` times the half-width of the reference value's 95% clip-bootstrap
interval, i.e. inside that interval (docs/PROTOCOL.md, Uncertainty).
"""

from __future__ import annotations

from pathlib import Path

from eval.results import load_results
from mmgt.errors import DataError
from mmgt.experiments.tables import REFERENCE_ROWS

TOLERANCE = 1.0  # a generated row's value may move by this fraction of its interval's half-width


def moved_values(reference: dict[str, dict], regenerated: dict[str, dict], tolerance: float = TOLERANCE,
                 exact_rows: tuple[str, ...] = REFERENCE_ROWS) -> list[str]:
    """One line per value of ``reference`` (rows -> results) that ``regenerated`` does not reproduce: a row or
    value absent, a bit-exact row's value changed at all, or a generated row's value moved further than
    ``tolerance`` x half its interval (a value without interval must not move)."""
    problems = []
    for row, ref in reference.items():
        if row not in regenerated:
            problems.append(f"{row}: not regenerated")
            continue
        exact = row in exact_rows
        for region, outs in ref["metrics"].items():
            for out, entry in outs.items():
                old, new = entry.get("value"), regenerated[row]["metrics"].get(region, {}).get(out, {}).get("value")
                if old is None or new is None:
                    if (old is None) != (new is None):
                        problems.append(f"{row} {region}/{out}: {old} -> {new}")
                    continue
                ci = entry.get("ci95")
                allowed = 0.0 if exact or not ci else tolerance * (ci[1] - ci[0]) / 2
                if abs(new - old) > allowed:
                    rule = "bit-exact row" if exact else f"allowed {allowed:.3g} = {tolerance:g} x half its interval"
                    problems.append(f"{row} {region}/{out}: {old:.6g} -> {new:.6g} moved {abs(new - old):.3g} ({rule})")
    return problems


def table_runs(table_dir: Path) -> dict[str, dict]:
    """The rows of a rendered table: ``runs/<row>.json`` under ``results/<table>/`` (extra seeds left out)."""
    paths = sorted(p for p in (Path(table_dir) / "runs").glob("*.json") if "-seed" not in p.stem)
    if not paths:
        raise DataError(Path(table_dir) / "runs", "no row results (runs/<row>.json) in this table folder")
    return {p.stem: load_results(p) for p in paths}


def check_table(reference_dir: Path, regenerated_dir: Path, tolerance: float = TOLERANCE) -> list[str]:
    """:func:`moved_values` of two folders of one table (e.g. the committed ``results/table2`` and a rerun)."""
    return moved_values(table_runs(reference_dir), table_runs(regenerated_dir), tolerance)


__all__ = ["TOLERANCE", "check_table", "moved_values", "table_runs"]
