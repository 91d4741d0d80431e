"""Cross-machine reproduction checked against the intervals, on a small regenerated table."""

from __future__ import annotations

import copy

from mmgt.experiments.reproduction import TOLERANCE, check_table, moved_values, table_runs
from mmgt.experiments.tables import TableConfig, reproduce


def test_a_regenerated_table_reproduces_and_moves_are_judged_by_the_intervals(tiny_split, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tables = {}
    for name in ("reference", "regenerated"):  # two regenerations from scratch (own runs and caches)
        cfg = TableConfig(table="table2", data=tiny_split, methods=("gt", "still"), runs=tmp_path / name / "runs",
                          results=tmp_path / name / "results",
                          eval_overrides={"metrics": ("psnr", "ssim"), "progress": False, "bootstrap": 200})
        tables[name] = reproduce(cfg).parent
    assert "±" in (tables["reference"] / "table2.md").read_text()
    assert (tables["reference"] / "runs" / "still.per_clip.csv").is_file()  # the report's per-clip points
    assert 'class="ours"' in (tables["reference"] / "report" / "index.html").read_text()  # reproduce writes the report
    assert check_table(tables["reference"], tables["regenerated"]) == []  # gt and still: bit-exact
    reference = table_runs(tables["reference"])
    lo, hi = reference["still"]["metrics"]["full"]["psnr"]["ci95"]
    half = (hi - lo) / 2
    assert half > 0
    moved = copy.deepcopy(reference)
    moved["still"]["metrics"]["full"]["psnr"]["value"] += 0.9 * TOLERANCE * half  # as a generated row on another CPU
    assert moved_values(reference, moved, exact_rows=()) == []
    assert moved_values(reference, moved) == [p for p in moved_values(reference, moved) if p.startswith("still full/psnr")] != []
    moved["still"]["metrics"]["full"]["psnr"]["value"] += 0.2 * TOLERANCE * half  # now beyond the interval
    (problem,) = moved_values(reference, moved, exact_rows=())
    assert problem.startswith("still full/psnr:") and "x half its interval" in problem
    del moved["gt"]
    assert "gt: not regenerated" in moved_values(reference, moved)


def test_reproduce_check_command_exits_3_on_a_moved_value(tmp_path):
    import json

    from typer.testing import CliRunner

    from mmgt.cli.main import app

    def table(name: str, value: float) -> str:
        runs = tmp_path / name / "runs"
        runs.mkdir(parents=True)
        entry = {"value": value, "ci95": [0.8, 1.2], "direction": "lower"}
        (runs / "generated.json").write_text(json.dumps({"schema_version": "1", "metrics": {"full": {"fid": entry}}}))
        return str(tmp_path / name)

    reference = table("reference", 1.0)
    assert CliRunner().invoke(app, ["reproduce", "check", reference, table("within", 1.15)]).exit_code == 0
    beyond = CliRunner().invoke(app, ["reproduce", "check", reference, table("beyond", 1.25)])
    assert beyond.exit_code == 3 and "generated full/fid: 1 -> 1.25" in beyond.output
