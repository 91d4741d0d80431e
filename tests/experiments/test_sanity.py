"""Sanity of the whole suite on the synthetic split: GT scores ideal, degraded GT scores worse.

Slow (every network on CPU): run with ``make test-slow``. I3D, AlexNet and SyncNet run seeded random
init here, so these tests check ordering, not real values.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from eval.config import EvalConfig
from eval.run import evaluate
from mmgt.experiments.sanity import NOISE_LEVELS, run

pytestmark = pytest.mark.slow
METRICS = ("fid", "fvd", "kvd", "psnr", "ssim", "lpips")


@pytest.fixture(scope="module")
def sanity(tiny_split, tmp_path_factory):
    runs = tmp_path_factory.mktemp("sanity")
    base = EvalConfig(pred=tiny_split, gt=tiny_split, allow_untrained=True, cache_dir=runs / "cache",
                      metrics=METRICS, progress=False)
    return run(tiny_split, runs, base), base


def test_gt_against_itself_is_ideal(method_outputs, tiny_split, sanity):
    _, base = sanity
    res, _, _ = evaluate(replace(base, pred=method_outputs["gt"]))
    for region in ("full", "face"):
        m = {k: e["value"] for k, e in res["metrics"][region].items()}
        assert m["psnr"] == 100.0 and m["ssim"] == pytest.approx(1.0) and m["lpips"] == pytest.approx(0.0, abs=1e-6)
        assert m["fid"] == pytest.approx(0.0, abs=1e-3) and m["fvd"] == pytest.approx(0.0, abs=1e-3)


@pytest.mark.parametrize("region", ["full", "face"])
def test_more_noise_is_monotonically_worse(sanity, region):
    res, _ = sanity
    rows = [res[f"noise{s:g}"][region] for s in NOISE_LEVELS]
    for worse, better in zip(rows[1:], rows[:-1]):
        for lower_is_better in ("fid", "fvd", "lpips"):
            assert worse[lower_is_better] > better[lower_is_better], lower_is_better
        for higher_is_better in ("psnr", "ssim"):
            assert worse[higher_is_better] < better[higher_is_better], higher_is_better


def test_time_shuffle_hurts_fvd_more_than_fid(sanity):
    res, _ = sanity
    shuffled, mild = res["shuffled"]["full"], res[f"noise{NOISE_LEVELS[0]:g}"]["full"]
    # the same frames in another order: FID barely moves, FVD does
    assert shuffled["fvd"] / max(mild["fvd"], 1e-9) > shuffled["fid"] / max(mild["fid"], 1e-9)
