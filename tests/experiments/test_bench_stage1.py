"""`make bench-stage1`: one timing case runs and reports what the bench file promises."""

from __future__ import annotations

from mmgt.experiments.bench_stage1 import time_case


def test_time_case_reports_speed_and_memory():
    result = time_case("tiny", threads=1, precision="fp32", repeats=1)
    assert result["frames"] == 80 and result["sample_steps"] == 50 and result["guidance"] == 2.0
    assert result["seconds_per_window"] > 0 and result["peak_rss_mib"] > 0
    assert result["faster_than_real_time"] == (result["seconds_per_window"] < 3.2)
    assert result["parameters"] == 1_287_378
