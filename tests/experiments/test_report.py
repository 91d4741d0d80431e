"""The HTML report of a table run: rendered from a fake three-row table (real gt/still videos of the tiny
split, a two-stage row with poses) and opened in headless Chromium."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from eval.results import PER_CLIP_FILE, UNTRAINED_MARK, write_json
from mmgt.data.layout import VIDEO
from mmgt.errors import DataError
from mmgt.experiments.report import ReportConfig, table_html, write_report
from mmgt.video_io import probe
from tests.browser import Browser, ensure_chromium

# (PSNR, its ci95, LPIPS (random-init), FVD (no interval)) per row
VALUES = {"gt": (40.0, [39.0, 41.0], 0.0, 0.01), "still": (12.0, [11.0, 13.5], 0.3, 5.0), "mmgt": (17.5, [16.0, 18.0], 0.2, 8.0)}


def fake_results(row: str, pred: Path, gt: Path, clips: list[str]) -> dict:
    psnr, ci, lpips, fvd = VALUES[row]
    method = {"description": f"the {row} row"} | ({"pose_source": {"name": "smga"}} if row == "mmgt" else {})
    return {
        "schema_version": "1", "package": {"git": {"commit": "abc123", "dirty": False}}, "created": "2026-12-04T00:00:00+00:00",
        "protocol": {"version": "3", "face_track": "gt", "fvd_protocol": "windows"},
        "inputs": {"pred": str(pred), "gt": str(gt), "n_pairs": len(clips)}, "clips": {"evaluated": clips},
        "metrics": {"face": {"psnr": {"value": psnr, "ci95": ci, "direction": "higher", "untrained": False},
                             "lpips": {"value": lpips, "ci95": [lpips - 0.01, lpips + 0.01], "direction": "lower", "untrained": True}},
                    "full": {"fvd": {"value": fvd, "ci95": None, "direction": "lower", "untrained": False}}},
        "extractors": {"i3d": {"weights": "f" * 64}}, "environment": {"platform": "Linux", "device": "cpu"}, "method": method,
    }


@pytest.fixture(scope="module")
def table_run(tiny_split, method_outputs, tmp_path_factory) -> tuple[Path, list[str]]:
    """``results/table1`` with rows gt, still and mmgt (gt's videos and poses), and their per-clip values."""
    root = tmp_path_factory.mktemp("report")
    preds = dict(method_outputs) | {"mmgt": root / "methods" / "mmgt"}
    shutil.copytree(method_outputs["gt"], preds["mmgt"])
    clips = sorted(p.parent.name for p in preds["gt"].glob(f"*/{VIDEO}"))
    table = root / "results" / "table1"
    (table / "runs").mkdir(parents=True)
    for row, pred in preds.items():
        write_json(table / "runs" / f"{row}.json", fake_results(row, pred, tiny_split, clips))
        with open(table / "runs" / f"{row}.{PER_CLIP_FILE}", "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["region", "metric", "clip_id", "value", "untrained"])
            w.writerows(["face", "psnr", c, VALUES[row][0] + k, False] for k, c in enumerate(clips))
    write_json(table / "runs" / "mmgt-seed1.json", fake_results("mmgt", preds["mmgt"], tiny_split, clips))  # not a row
    return table, clips


def test_table_marks_best_intervals_untrained_and_paper_rows(table_run):
    from eval.results import load_results

    table, _ = table_run
    runs = {m: load_results(table / "runs" / f"{m}.json") for m in VALUES}
    page = table_html("table1", runs)
    assert page.count('<tr class="ours">') == 3 and page.count('<tr class="paper">') == 4  # Table I prints 4 rows
    best = [cell for cell in page.split("<td") if 'class="best"' in cell]
    # gt not ranked: mmgt's PSNR and LPIPS, still's FVD
    assert len(best) == 3 and any("17.50 ± 1.00" in c for c in best) and any(">5.0000<" in c for c in best)
    assert any(f"0.2000 ± 0.0100{UNTRAINED_MARK}" in c for c in best)
    assert f"0.3000 ± 0.0100{UNTRAINED_MARK}" in page


@pytest.fixture(scope="module")
def report(table_run) -> Path:
    return write_report(ReportConfig(table_run[0]))


def test_report_folder_is_self_contained(report, table_run):
    out = report.parent
    page = report.read_text()
    assert "http://" not in page and "https://" not in page and "src=\"/" not in page
    assert sorted(p.name for p in (out / "runs").iterdir()) == ["gt.json", "mmgt.json", "still.json"]
    for clip in table_run[1]:
        names = {p.name for p in (out / "media" / clip).iterdir()}
        assert names == {"speech.webm", "gt.webm", "still.webm", "mmgt.webm", "mmgt.pose.webm", "mmgt.mask.webm"}
        assert probe(out / "media" / clip / "gt.webm").width == 128
    assert sorted(p.name for p in (out / "plots").iterdir()) == ["face.png", "video.png"]
    assert sum(p.stat().st_size for p in out.rglob("*")) < 2_000_000


def test_report_command_rebuilds_a_report_and_refuses_other_folders(report, table_run, tmp_path):
    from typer.testing import CliRunner

    from mmgt.cli.main import app

    out = tmp_path / "again"
    assert CliRunner().invoke(app, ["report", str(table_run[0]), "--out", str(out)]).exit_code == 0
    assert (out / "index.html").read_text() == report.read_text()  # same inputs, same page
    assert CliRunner().invoke(app, ["report", str(table_run[0]), "--out", str(out)]).exit_code == 0  # replaces its own
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keep.txt").write_text("not a report")
    refused = CliRunner().invoke(app, ["report", str(table_run[0]), "--out", str(tmp_path / "other")])
    assert isinstance(refused.exception, DataError) and (tmp_path / "other" / "keep.txt").is_file()


def test_report_in_headless_chromium(report, table_run, tmp_path):
    if reason := ensure_chromium():
        pytest.skip(reason)
    clips = table_run[1]
    expected = {c: probe(table_run[0].parents[1] / "methods" / "mmgt" / c / VIDEO).n_frames / 25 for c in clips}
    with Browser() as browser:
        browser.load(report.resolve().as_uri())
        assert browser.evaluate("document.querySelectorAll('tr.ours').length") == 3
        assert browser.wait_for("Array.from(document.querySelectorAll('video, audio')).every(v => v.readyState >= 1)")
        media = browser.evaluate("Array.from(document.querySelectorAll('section.clip')).map(s => "
                                 "Array.from(s.querySelectorAll('video')).map(v => v.duration))")
        assert [len(d) for d in media] == [5] * len(clips)
        for clip, durations in zip(clips, media):
            assert np.allclose(durations, expected[clip], atol=0.041), (clip, durations)
        # sorting: PSNR ascending, then descending
        column = browser.evaluate("Array.from(document.querySelectorAll('th')).findIndex(th => th.textContent === 'facePSNR↑')")
        psnr = f"Array.from(document.querySelectorAll('tr.ours')).map(tr => +tr.cells[{column}].dataset.v)"
        browser.evaluate(f"document.querySelectorAll('th')[{column}].click()")
        assert browser.evaluate(psnr) == [12.0, 17.5, 40.0]
        browser.evaluate(f"document.querySelectorAll('th')[{column}].click()")
        assert browser.evaluate(psnr) == [40.0, 17.5, 12.0]
        # one slider drives the speech and every video of its clip
        browser.evaluate("(() => { const s = document.querySelector('input.scrub'); s.value = 1.5; "
                         "s.dispatchEvent(new Event('input')); })()")
        times = browser.evaluate("Array.from(document.querySelector('section.clip').querySelectorAll('video, audio'))"
                                 ".map(v => v.currentTime)")
        assert np.allclose(times, 1.5)
        browser.evaluate("(() => { const b = document.querySelector('input.views'); b.click(); })()")
        assert browser.evaluate("getComputedStyle(document.querySelector('figure.view')).display") == "block"
        browser.wait_for("Array.from(document.querySelectorAll('video')).every(v => v.readyState >= 2)", timeout=5)
        shot = browser.screenshot(tmp_path / "report.png")
        assert not browser.errors, browser.errors
    print(f"report screenshot: {shot}")
    image = cv2.imread(str(shot))
    assert image is not None and image.std() > 0
