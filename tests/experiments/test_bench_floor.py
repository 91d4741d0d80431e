"""bench-eval's floor: FLOPs of the networks it runs, and the cold vs GT-cached accounting."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from mmgt.experiments import bench_eval as bench
from eval.config import EvalConfig
from eval.harness import Evaluator
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


def test_speedups_and_report_against_both_reference_runs():
    tool = {"pytorch-fid": {"seconds": 300.0, "gt_side_seconds": 120.0}, "skimage": {"seconds": 20.0, "gt_side_seconds": 0.0}}
    ref = bench.summarise(tool)
    assert ref == {"seconds": 320.0, "per_tool": {"pytorch-fid": 300.0, "skimage": 20.0},
                   "pytorch_fid_gt_side_seconds": 120.0, "seconds_with_gt_stats_saved": 200.0}
    assert bench.speedups(ref, cold=160.0, gt_cached=100.0) == {"cold": 2.0, "gt_cached": 3.2, "gt_cached_vs_gt_stats_saved": 2.0}
    suite = {"seconds": 160.0, "wall_over_forward": 1.1, "forward_seconds": {"facemesh": 6.0}}
    gt_track = {"seconds": 150.0, "per_video_track_overhead": 160.0 / 150.0 - 1}
    report = {"package": {"git": {"commit": "abc123", "dirty": False}}, "clips": 8, "threads": 2,
              "suite": {"all_metrics": suite, "all_metrics_gt_face_track": gt_track, "reference_metrics": suite,
                                                  "reference_metrics_gt_cached": {"seconds": 100.0},
                                                  "human_metrics": {"seconds": 40.0, "forward_seconds": {"holistic": 21.0}}},
              "reference_tools": {"default allocator": ref}, "speedup": {"default allocator": bench.speedups(ref, 160.0, 100.0)},
              "speedup_ceiling": {"default allocator": bench.speedups(ref, 80.0, 50.0)},
              "network_floor": {"gflop_cold": 8000.0, "gflop_gt_cached": 5000.0, "gemm_gflops": 100.0,
                                "floor_seconds_cold": 80.0, "floor_seconds_gt_cached": 50.0, "gflop_per_unit": {"inception": 11.4}},
              "values": {"full/fid": {"ours": 1.0, "reference": 1.0, "abs_diff": 0.0, "untrained": False},
                         "full/lpips": {"ours": 0.1, "reference": 0.1, "abs_diff": 0.0, "untrained": True}}, "note": "random-init networks"}
    text = bench.render(report, Path("data/synth"))
    assert "**2.00x** cold; **3.20x** with our GT features cached" in text
    assert "Ceilings (below): 4.00x, 6.40x, 4.00x." in text and "random-init networks" in text
    assert "Per-video face tracks (the default) cost +6.7% of an all-metrics run" in text and "is 6.0 s" in text
    assert "The half-body metrics add 40.0 s to an all-metrics run of these 8 clips (s per model: holistic 21.0;" in text
    assert "| full/lpips† | 0.1 |" in text and "| full/fid | 1.0 |" in text  # random-init values are marked


def test_untrained_note_names_what_actually_ran_untrained():
    assert bench.untrained_note({"inception": {"untrained": False}}) == ""
    note = bench.untrained_note({"inception": {"untrained": False}, "lpips": {"untrained": True}, "i3d": {"untrained": True}})
    assert note.startswith("i3d, lpips ran with seeded random init") and "inception" not in note
