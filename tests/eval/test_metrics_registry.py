"""The metric registry and the Metric contract shared by every metric."""

import numpy as np
import pytest

import eval.metrics as metrics
from eval.metrics import FrechetMetric, PSNRMetric
from mmgt.errors import MMGTError

BUILTIN = ("fid", "fvd", "kvd", "psnr", "ssim", "lpips", "fgd", "div")


def test_builtin_names_and_their_outputs():
    assert set(BUILTIN) <= set(metrics.available())
    assert metrics.create("fid").directions == {"fid": "lower"}
    assert metrics.create("fvd").dim == 400
    assert metrics.create("kvd").directions == {"kvd": "lower"}
    assert metrics.create("psnr").directions == {"psnr": "higher"}
    assert metrics.create("ssim").directions == {"ssim": "higher"}
    assert metrics.create("lpips", net=None).directions == {"lpips": "lower"}
    assert metrics.create("fgd", dim=32).directions == {"fgd": "lower"}
    assert metrics.create("div", dim=32).directions == {"div": "higher", "div_gt": "none"}


def test_unknown_names_get_one_line_listing_the_valid_ones():
    with pytest.raises(MMGTError, match=r"unknown metric\(s\) fdi, sink; valid: fid, fvd, kvd"):
        metrics.validate(["fid", "fdi", "sink"])
    with pytest.raises(MMGTError, match="unknown metric"):
        metrics.create("FID")


def test_other_modules_can_register_names(monkeypatch):
    monkeypatch.setattr(metrics, "_REGISTRY", dict(metrics._REGISTRY))
    metrics.register("sync-c", PSNRMetric)
    assert isinstance(metrics.create("sync-c"), PSNRMetric)
    with pytest.raises(ValueError, match="already registered"):
        metrics.register("fid", PSNRMetric)


def test_state_dict_is_plain_numpy_and_load_checks_it(tmp_path):
    metric = FrechetMetric("fid", dim=4)
    metric.update(pred=np.arange(12.0).reshape(3, 4))
    state = metric.state_dict()
    assert all(isinstance(value, np.ndarray) and value.dtype != object for value in state.values())
    np.savez(tmp_path / "shard.npz", **state)
    with np.load(tmp_path / "shard.npz", allow_pickle=False) as saved:
        loaded = {key: saved[key] for key in saved.files}
    fresh = FrechetMetric("fid", dim=4)
    fresh.load_state_dict(loaded)
    assert fresh.stats("pred").n == 3 and fresh.stats("pred").total.tolist() == [12.0, 15.0, 18.0, 21.0]
    with pytest.raises(ValueError, match="shape"):
        FrechetMetric("fid", dim=4).load_state_dict(loaded | {"gt.total": np.zeros(5)})
    with pytest.raises(ValueError, match="state keys"):
        FrechetMetric("fid", dim=4).load_state_dict({"pred.n": np.zeros((), np.int64)})
    with pytest.raises(ValueError, match="config.dim"):
        FrechetMetric("fid", dim=5).load_state_dict(loaded)


def test_merge_refuses_other_metrics_and_reset_empties():
    fid, fvd = FrechetMetric("fid", dim=4), FrechetMetric("fvd", dim=4)
    with pytest.raises(ValueError, match="cannot merge"):
        fid.merge(fvd)
    with pytest.raises(ValueError, match="cannot merge"):
        fid.merge(FrechetMetric("fid", dim=3))
    psnr = PSNRMetric()
    psnr.update(np.zeros((2, 4, 4, 3)), np.ones((2, 4, 4, 3)), "a")
    psnr.reset()
    assert psnr.diagnostics() == {"n_clips": 0, "n_frames": 0, "n_capped": 0}
