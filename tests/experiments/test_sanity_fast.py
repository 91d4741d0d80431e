"""Reduced degradation sanity (fast suite): known damage to GT moves each metric the right way.

Noise lowers PSNR/SSIM and raises FID and mouth LMD; the picture shifted 0.8 s against the speech drops
the lip-audio correlation from GT's own (~0.9) to about 0. Real weights: FID Inception, MediaPipe.
"""

from __future__ import annotations

import pytest

from eval.config import EvalConfig
from mmgt.experiments.sanity import SHIFT_SECONDS, Degradation, run

METRICS = ("psnr", "ssim", "fid", "mouth_lmd", "lip_audio")


@pytest.fixture(scope="module")
def sanity(tiny_split, tmp_path_factory):
    runs = tmp_path_factory.mktemp("sanity_fast")
    base = EvalConfig(pred=tiny_split, gt=tiny_split, metrics=METRICS, regions=("full",), cache_dir=runs / "cache", progress=False)
    return run(tiny_split, runs, base, [Degradation(sigma=16.0), Degradation(shift=SHIFT_SECONDS)])


def test_noise_is_worse_on_pixels_fid_and_mouth_landmarks(sanity):
    noisy = sanity["noise16"]
    assert noisy["full"]["psnr"] < 30 and noisy["full"]["ssim"] < 0.9
    assert noisy["full"]["fid"] > 1.0
    assert noisy["landmarks"]["mouth_lmd"] > 0.0


def test_shifted_picture_loses_lip_audio_correlation(sanity):
    shifted = sanity["shift0.8s"]["landmarks"]
    assert shifted["lip_audio_corr_gt"] > 0.7
    assert abs(shifted["lip_audio_corr"]) < 0.35 and shifted["lip_audio_corr"] < shifted["lip_audio_corr_gt"] - 0.6
    assert shifted["mouth_lmd"] > 0.0
