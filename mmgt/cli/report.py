"""``mmgt report``: a table folder's static HTML report (the table, plots, every row's clips, provenance)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from mmgt.experiments.report import ReportConfig


def report(
    results_dir: Path = typer.Argument(..., help="A table folder written by `mmgt reproduce` (e.g. results/table1)."),
    out: Optional[Path] = typer.Option(ReportConfig.out, help="Report folder (default: RESULTS_DIR/report)."),
    base: Path = typer.Option(ReportConfig.base, help="Folder the results files' relative video paths start from "
                              "(where `mmgt reproduce` ran)."),
) -> None:
    """Write RESULTS_DIR/report/index.html (self-contained: open it in any browser, no server needed)."""
    from mmgt.experiments.report import write_report

    print(write_report(ReportConfig(results_dir, out=out, base=base)))
