"""Tables and the stage-1 report rendered end to end on the tiny split (cheap metrics, reference rows)."""

from __future__ import annotations

import json

import pytest

from mmgt.experiments import stage1_report as R
from mmgt.experiments.tables import TableConfig, reproduce
from mmgt.methods.reference import GroundTruthPoses, StillPoses


def test_table_renders_measured_rows_beside_the_paper(tiny_split, tmp_path):
    cfg = TableConfig(table="table1", data=tiny_split, methods=("gt", "still"), runs=tmp_path / "runs",
                      results=tmp_path / "results", eval_overrides={"metrics": ("psnr", "ssim"), "progress": False})
    text = reproduce(cfg).read_text()
    assert "gt (ours)" in text and "still (ours)" in text and "(paper, PATS)" in text
    assert "Not comparable to the paper" in text and "random-init extractors refused" in text
    gt = json.loads((tmp_path / "results" / "table1" / "runs" / "gt.json").read_text())
    assert gt["metrics"]["full"]["psnr"]["value"] == 100.0 and gt["method"]["driven_by"] == "ground-truth"


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
