"""Tables and the stage-1 report rendered end to end on the tiny split (cheap metrics, reference rows)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from eval.bootstrap import Bootstrap
from eval.table import TABLE_COLUMNS, format_value
from mmgt.errors import DataError
from mmgt.experiments import stage1_report as R
from mmgt.experiments.tables import DEFAULT_METHODS, PAPER_ROWS, TableConfig, ordering, paper_rows, paper_values, render, reproduce
from mmgt.methods.reference import GroundTruthPoses, StillPoses


def test_table_renders_measured_rows_beside_the_paper(tiny_split, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no trained models under ./runs
    cfg = TableConfig(table="table1", data=tiny_split, methods=("gt", "still", "edge+animate-anyone"), runs=tmp_path / "runs",
                      results=tmp_path / "results", eval_overrides={"metrics": ("psnr", "ssim"), "progress": False})
    with pytest.raises(DataError, match="no trained model for the row 'edge\\+animate-anyone'"):
        reproduce(dataclasses.replace(cfg, skip_missing=False))
    assert not (tmp_path / "runs" / "methods").exists()  # refused before generating anything
    text = reproduce(cfg).read_text()
    assert "**Not measured (no trained model found):** `edge+animate-anyone` (" in text
    assert "edge+animate-anyone (ours)" not in text
    assert "gt (ours)" in text and "still (ours)" in text and "(paper, PATS)" in text
    assert "Not comparable to the paper" in text and "random-init extractors refused" in text
    assert "FVD/KVD protocol `common-metrics`" in text  # every table names what its FVD is
    gt = json.loads((tmp_path / "results" / "table1" / "runs" / "gt.json").read_text())
    assert gt["metrics"]["full"]["psnr"]["value"] == 100.0 and gt["method"]["driven_by"] == "ground-truth"
    assert "No column has two of the paper's methods measured by us." in text
    assert (tmp_path / "results" / "table1" / "table1_frames.png").stat().st_size > 1000
    # a metric that ran but scored nothing reads n/a, with the reason; one never computed reads –
    gt["metrics"]["landmarks"] = {"mouth_lmd": {"value": None, "error": "mouth_lmd: no clip could be scored",
                                                "n_frames": 80, "n_no_face_pred": 80, "direction": "lower"}}
    rendered = render(cfg, {"faceless": gt})
    faceless = next(line for line in rendered.splitlines() if line.startswith("| faceless (ours)"))
    assert faceless.count("n/a") == 1 and "–" in faceless
    assert "**n/a:** computed, but no clip could be scored: `faceless` mouth_lmd (no face found in 80 of 80 generated frames)." in rendered
    assert "Share of GT points found" not in rendered and "Share of frames scored" not in rendered  # n/a says it
    # lip sync without a usable face (its entry counts frames without one, not frames) and the clips excluded
    gt["metrics"]["lip"] = {"sync_c": {"value": None, "error": "sync: no clip had a usable face", "n_no_face_pred": 639,
                                       "direction": "higher"}}
    gt["clips"] = dict(gt["clips"], no_face_pred=gt["clips"]["evaluated"][:1])
    rendered = render(cfg, {"faceless": gt})
    assert "`faceless` sync_c (no face found in 639 generated frames)" in rendered
    assert f"Clips excluded: `faceless` 1 of {len(gt['clips']['evaluated'])}." in rendered
    gt["clips"]["no_face_pred"] = []
    gt["metrics"]["landmarks"]["pose_err"] = {"value": 0.2, "n_points": 1000, "n_missed": 780, "direction": "lower"}
    gt["metrics"]["landmarks"]["mouth_lmd"] = {"value": 0.9, "n_frames": 80, "n_scored": 2, "direction": "lower"}
    rendered = render(cfg, {"faceless": gt, "gt": json.loads((tmp_path / "results" / "table1" / "runs" / "gt.json").read_text())})
    assert "Share of GT points found: `faceless` 22%." in rendered
    assert "Share of frames scored: `faceless` 2%." in rendered  # gt, scored in every frame, is not listed


def test_paper_rows_map_to_registered_rows_and_sync_columns_are_unswapped():
    from mmgt.methods import method_names

    for table, rows in PAPER_ROWS.items():
        assert set(paper_values(paper_rows(table))) == set(rows)  # every printed row has our counterpart
        assert set(DEFAULT_METHODS[table]) <= set(method_names())
    mmgt = paper_values(paper_rows("table1"))["MMGT (audio-driven)"]
    assert (mmgt[("lip", "Sync-C")], mmgt[("lip", "Sync-D")]) == (4.51, 10.16)  # printed under the other name


def run_with(values: dict[tuple[str, str], float], untrained: bool = False) -> dict:
    metrics: dict[str, dict] = {}
    for (region, out), v in values.items():
        metrics.setdefault(region, {})[out] = {"value": v, "direction": "higher" if out == "psnr" else "lower", "untrained": untrained}
    return {"metrics": metrics}


def boot_with(values: dict[tuple[str, str], float], spread: float) -> Bootstrap:
    """Replicates around each value: the same draws (one seed) for every row, as runs on the same clips have."""
    noise = np.random.default_rng(0).standard_normal(1000)
    return Bootstrap(1000, 0, ("a", "b"), {f"{r}/{o}": v + spread * noise for (r, o), v in values.items()})


def test_ordering_answers_reproduces_contradicts_or_not_resolved_from_paired_comparisons():
    # paper, Table II: MMGT beats AnimateAnyone on face FID (2.96 < 3.11) and video PSNR (32.62 > 32.51)
    values = {"animate-anyone": {("face", "fid"): 5.0, ("full", "psnr"): 20.0, ("face", "psnr"): 30.0},
              "mmgt-gt-pose": {("face", "fid"): 4.0, ("full", "psnr"): 19.0, ("face", "psnr"): 30.001},
              "still": {("face", "fid"): 1.0, ("full", "psnr"): 99.0}}  # not a paper row: ignored
    runs = {m: run_with(v) for m, v in values.items()}
    boots = {m: boot_with(v, 0.1) for m, v in values.items()}  # paired: the 0.001 gap of face PSNR is resolved too
    rows = {r[0]: r[1:] for r in ordering("table2", runs, boots)}
    assert rows["face FID"] == ["mmgt-gt-pose > animate-anyone", "mmgt-gt-pose > animate-anyone", "reproduces",
                                "mmgt-gt-pose - animate-anyone: [-1, -1]"]  # same draws: the noise cancels
    assert rows["video PSNR"][1:3] == ["animate-anyone > mmgt-gt-pose", "contradicts: animate-anyone > mmgt-gt-pose"]
    assert rows["face PSNR"][2] == "reproduces"
    unpaired = dict(boots, **{"mmgt-gt-pose": Bootstrap(1000, 0, ("a", "b"), {"face/fid": 4.0 + 0.3 * np.random.default_rng(1).standard_normal(1000)})})
    rows = {r[0]: r[1:] for r in ordering("table2", runs, unpaired)}  # independent noise: a 1.0 gap against ~0.4 spread
    assert rows["face FID"][2] == "reproduces"
    unpaired["mmgt-gt-pose"].replicates["face/fid"] = 4.0 + 3.0 * np.random.default_rng(1).standard_normal(1000)
    rows = {r[0]: r[1:] for r in ordering("table2", runs, unpaired)}
    assert rows["face FID"][2] == "not resolved: mmgt-gt-pose = animate-anyone"
    assert rows["face PSNR"][2:] == ["not resolved: mmgt-gt-pose ? animate-anyone (no interval)", "–"]
    assert set(rows) == {"face FID", "video PSNR", "face PSNR"}
    runs["animate-anyone"] = run_with({("face", "fid"): 5.0}, untrained=True)
    assert ordering("table2", runs, boots)[0][3].startswith("reproduces †")
    assert ordering("table2", runs)[0][3] == "not resolved: mmgt-gt-pose ? animate-anyone (no interval) †"  # no replicates


def test_values_show_their_interval_and_close_calls_are_marked():
    from mmgt.experiments.tables import CLOSE_MARK, close_calls, seed_spread

    runs = {"a": run_with({("face", "fid"): 5.0}), "b": run_with({("face", "fid"): 5.5}), "c": run_with({("face", "fid"): 9.0})}
    runs["a"]["metrics"]["face"]["fid"]["ci95"] = [4.0, 6.2]  # wider (2.2) than the gap to b (0.5)
    runs["b"]["metrics"]["face"]["fid"]["ci95"] = [5.3, 5.7]
    runs["c"]["metrics"]["face"]["fid"]["ci95"] = [8.0, 10.0]
    assert close_calls(runs) == {("a", "face", "fid")}
    assert format_value(runs["a"]["metrics"]["face"]["fid"]) == "5.0000 ± 1.1000"
    assert format_value({"value": 175.08, "ci95": [168.9, 181.3]}) == "175.08 ± 6.20"
    samples = {"m": [run_with({("face", "fid"): v}) for v in (1.0, 2.0, 3.0)], "gt": [runs["a"]]}
    (row,) = seed_spread(samples)
    assert row[0] == "m (3 seeds)" and row[1 + [c[3] for c in TABLE_COLUMNS].index("fid")] == "1"
    assert CLOSE_MARK == "≈"


def test_stage1_report_rows_go_through_the_harness(tiny_split, tmp_path):
    clips = R.Split(tiny_split).clips("test")
    encoder = R.encoder_for_split(tiny_split, cache_dir=tmp_path / "gesture")
    gt = R.score(R.PoseRow(GroundTruthPoses(), "gt"), tiny_split, clips, tmp_path / "gt", encoder)
    still = R.score(R.PoseRow(StillPoses(), "still"), tiny_split, clips, tmp_path / "still", encoder)
    assert gt["fgd"] == pytest.approx(0.0, abs=1e-6) and still["fgd"] > gt["fgd"]
    assert still["lip_audio_corr"] == pytest.approx(0.0, abs=1e-9) and gt["lip_audio_corr"] > 0.3
    row = R.summarise("still", [still, still], {})
    assert row["fgd"] == still["fgd"] and row["fgd_std"] == 0.0 and row["seeds"] == 2
    text = R.write_report([R.summarise("GT", [gt], {}), row], {
        "data": str(tiny_split), "test_clips": len(clips), "seeds": 2, "code": {"commit": "abc"}, "protocol": "1",
        "gesture_encoder": gt["gesture_encoder"], "untrained_note": ""}, tmp_path / "out").read_text()
    assert "± 0.000" in text and "abc" in text
