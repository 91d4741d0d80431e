"""PSNR and SSIM against scikit-image with the protocol settings."""

import math

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from eval.metrics import PSNRMetric, SSIMMetric


def skimage_ssim(a, b):
    return structural_similarity(
        a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0, channel_axis=-1
    )


def structured_frames(n, h, w, rng):
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.stack([xx, yy, ((xx * 8).astype(int) + (yy * 8).astype(int)) % 2], axis=-1)  # ramps + checkerboard
    frames = np.stack([np.roll(base, shift, axis=1) for shift in range(n)])
    return frames, np.clip(frames + rng.normal(0, 0.05, frames.shape), 0, 1)


def ssim_per_frame(pred, gt):
    metric = SSIMMetric()
    for i in range(len(pred)):
        metric.update(pred[i : i + 1], gt[i : i + 1], f"clip{i}")
    return metric.clip_means()


@pytest.mark.parametrize("shape", [(11, 11), (32, 40), (64, 64)])
def test_ssim_equals_skimage_on_random_frames(shape):
    rng = np.random.default_rng(sum(shape))
    pred, gt = rng.random((3, *shape, 3)), rng.random((3, *shape, 3))
    gt[1] = np.clip(pred[1] + rng.normal(0, 0.02, pred[1].shape), 0, 1)
    ours = ssim_per_frame(pred, gt)
    for i in range(3):
        assert ours[f"clip{i}"] == pytest.approx(skimage_ssim(pred[i], gt[i]), abs=1e-6)


def test_ssim_equals_skimage_on_structured_frames():
    pred, gt = structured_frames(4, 48, 56, np.random.default_rng(0))
    ours = ssim_per_frame(pred, gt)
    for i in range(4):
        assert ours[f"clip{i}"] == pytest.approx(skimage_ssim(pred[i], gt[i]), abs=1e-6)


def test_zeros_versus_ones_vectors():
    zeros, ones = np.zeros((2, 32, 32, 3)), np.ones((2, 32, 32, 3))
    ssim, psnr = SSIMMetric(), PSNRMetric()
    ssim.update(zeros, ones, "c")
    psnr.update(zeros, ones, "c")
    assert ssim.compute()["ssim"] == pytest.approx(9.999000099990664e-05, rel=1e-12)
    assert psnr.compute()["psnr"] == 0.0


def test_psnr_equals_skimage_mean_over_frames_then_clips():
    rng = np.random.default_rng(3)
    pred = rng.integers(0, 256, (5, 16, 16, 3), dtype=np.uint8)
    gt = np.clip(pred.astype(int) + rng.integers(-40, 41, pred.shape) * np.arange(1, 6)[:, None, None, None] // 5, 0, 255)
    gt = gt.astype(np.uint8)
    clips = ["b", "b", "a", "a", "a"]
    metric = PSNRMetric()
    metric.update(pred, gt, clips)
    per_frame = [peak_signal_noise_ratio(g / 255, p / 255, data_range=1.0) for p, g in zip(pred, gt)]
    expected = (np.mean(per_frame[:2]) + np.mean(per_frame[2:])) / 2
    assert metric.compute()["psnr"] == pytest.approx(expected, rel=1e-12)
    assert abs(expected - np.mean(per_frame)) > 1e-3  # the clip weighting is really exercised
    assert metric.diagnostics() == {"n_clips": 2, "n_frames": 5, "n_capped": 0}


def test_psnr_cap_for_identical_frames_is_counted():
    rng = np.random.default_rng(4)
    frames = rng.random((3, 8, 8, 3))
    other = frames.copy()
    other[2] = np.clip(other[2] + 0.1, 0, 1)
    metric = PSNRMetric()
    metric.update(frames, other, "c")
    scores = metric.clip_means()["c"] * 3
    mse = np.mean((frames[2] - other[2]) ** 2)
    assert scores == pytest.approx(200 + 10 * math.log10(1 / mse), rel=1e-12)
    assert metric.diagnostics()["n_capped"] == 2


def test_uint8_frames_equal_their_float_values():
    rng = np.random.default_rng(5)
    pred, gt = rng.integers(0, 256, (2, 2, 20, 20, 3), dtype=np.uint8)
    for metric_type in (PSNRMetric, SSIMMetric):
        as_uint8, as_float = metric_type(), metric_type()
        as_uint8.update(pred, gt, "c")
        as_float.update(pred / 255.0, gt / 255.0, "c")
        assert as_uint8.compute() == as_float.compute()


def test_bad_frames_are_rejected():
    metric = SSIMMetric()
    frames = np.zeros((2, 16, 16, 3))
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        metric.update(frames - 1, frames, "c")
    with pytest.raises(ValueError, match="differ"):
        metric.update(frames, frames[:1], "c")
    with pytest.raises(ValueError, match="3 clip ids for 2 frames"):
        metric.update(frames, frames, ["a", "b", "c"])
    with pytest.raises(ValueError, match=r"shape \(n, H, W, 3\)"):
        metric.update(frames[..., 0], frames[..., 0], "c")
    with pytest.raises(ValueError, match="at least 11 pixels"):
        metric.update(frames[:, :10], frames[:, :10], "c")
    with pytest.raises(ValueError, match="no frames"):
        metric.compute()
