"""bench-eval's floor: FLOPs of the networks it runs, and the cold vs GT-cached accounting."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from eval import bench
from eval.harness import EvalConfig, Evaluator
from mmgt.data.layout import Split


def test_network_gflop_matches_the_architectures(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ev = Evaluator(EvalConfig(pred=tmp_path, gt=tmp_path, allow_untrained=True, weights_dir=tmp_path, cache_dir=None))
        per_unit = bench.network_gflop(ev)
    assert per_unit["inception"] == pytest.approx(2 * 5.71, rel=0.01)  # Inception-v3 at 299: 5.71 G multiply-adds
    assert per_unit["lpips"] == pytest.approx(3.475, rel=0.01)  # two AlexNet trunks at 256x256 plus the heads
    assert per_unit["syncnet"] == pytest.approx(3.604, rel=0.01)


def test_floor_counts_gt_inception_only_when_cold(tiny_split: Path, monkeypatch):
    monkeypatch.setattr(bench, "network_gflop", lambda ev: {"inception": 10.0, "lpips": 2.0, "syncnet": 1.0})
    clips = Split(tiny_split).clips("test")
    metrics = {r: {"fid": {"n_pred": 100, "n_gt": 300}, "lpips": {"n_frames": 100}} for r in ("full", "face")}
    floor = bench.network_floor(None, {"metrics": metrics}, tiny_split, gemm=100.0)
    windows = floor["units"]["syncnet"]
    assert windows == sum(c.record.frame_end - c.record.frame_start - 5 for c in clips)  # audio covers every frame
    assert floor["gflop_gt_cached"] == pytest.approx(10 * 200 + 2 * 200 + windows)
    assert floor["gflop_cold"] == pytest.approx(floor["gflop_gt_cached"] + 10 * 600)
    assert floor["floor_seconds_cold"] == pytest.approx(floor["gflop_cold"] / 100, abs=0.05)
