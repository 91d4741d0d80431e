"""Results do not depend on data order, batch sizes, or sharding through saved states."""

import warnings
from functools import cache

import lpips
import numpy as np
import pytest
import torch

from eval.metrics import DiversityMetric, FrechetMetric, LPIPSMetric, PolynomialMMDMetric, PSNRMetric, SSIMMetric


def feature_items(rng):
    """Update calls of feature rows: varying sizes, some with one side only."""
    sizes = [(5, 4), (3, 0), (7, 6), (0, 5), (2, 2), (6, 3)]
    return [
        {side: rng.standard_normal((n, 6)) + offset for side, n, offset in (("pred", p, 0.3), ("gt", g, 0.0)) if n}
        for p, g in sizes
    ]


def frame_items(rng):
    """Update calls of frames: clips of 1-4 frames, clip 'c1' split over two calls, one identical pair."""
    items = []
    for clip, n in [("c0", 3), ("c1", 2), ("c2", 4), ("c1", 2), ("c3", 1), ("c4", 3)]:
        pred = rng.random((n, 32, 32, 3))
        gt = pred.copy() if clip == "c3" else np.clip(pred + rng.normal(0, 0.1, pred.shape), 0, 1)
        items.append({"pred": pred, "gt": gt, "clip_ids": [clip] * n})
    return items


def combine(items):
    """One update call holding all of ``items``."""
    merged = {}
    for item in items:
        for key, value in item.items():
            merged.setdefault(key, []).append(value)
    return {key: np.concatenate(values) for key, values in merged.items()}


@cache
def lpips_net():
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return lpips.LPIPS(net="alex", pretrained=True, pnet_rand=True, verbose=False).eval()


CASES = {
    "fid": (lambda: FrechetMetric("fid", dim=6), feature_items, 1e-12),
    "kvd": (lambda: PolynomialMMDMetric(dim=6), feature_items, 0.0),
    "div": (lambda: DiversityMetric(dim=6, seed=1), feature_items, 0.0),
    "psnr": (PSNRMetric, frame_items, 0.0),
    "ssim": (SSIMMetric, frame_items, 0.0),
    "ssim-16-frame-chunks": (lambda: SSIMMetric(chunk=16), frame_items, 0.0),
    "lpips": (lambda: LPIPSMetric(lpips_net(), chunk=5), frame_items, 1e-6),
}


def run(make, calls):
    metric = make()
    for call in calls:
        metric.update(**call)
    return metric


def through_saved_shards(make, items, tmp_path):
    merged = make()
    for index, shard in enumerate(np.array_split(np.arange(len(items)), 3)):
        np.savez(tmp_path / f"{index}.npz", **run(make, [items[i] for i in shard]).state_dict())
        with np.load(tmp_path / f"{index}.npz", allow_pickle=False) as saved:
            loaded = make()
            loaded.load_state_dict({key: saved[key] for key in saved.files})
        merged.merge(loaded)
    return merged


@pytest.mark.parametrize("case", CASES)
def test_order_batching_and_sharding_do_not_change_results(case, tmp_path):
    make, make_items, tolerance = CASES[case]
    items = make_items(np.random.default_rng(0))
    reference = run(make, items)
    expected = reference.compute()
    order = np.random.default_rng(1).permutation(len(items))
    variants = {
        "shuffled": run(make, [items[i] for i in order]),
        "one batch": run(make, [combine(items)]),
        "batches of 4": run(make, [combine(items[:4]), combine(items[4:])]),
        "shards": through_saved_shards(make, [items[i] for i in order], tmp_path),
    }
    for name, metric in variants.items():
        assert metric.diagnostics() == reference.diagnostics(), name
        if tolerance:
            assert metric.compute() == pytest.approx(expected, rel=tolerance, abs=0), name
        else:
            assert metric.compute() == expected, name
