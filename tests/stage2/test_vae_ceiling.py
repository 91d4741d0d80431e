"""The VAE ceiling: test clips through a stage-2 VAE alone, written as a prediction folder and scored."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mmgt.data.layout import Split
from mmgt.errors import DataError
from mmgt.experiments import vae_ceiling
from mmgt.stage2.model import build_vae
from mmgt.video_io import probe, read_video


def test_reconstructed_clips_match_the_split_and_are_scored(small_cfg, tiny_split, tmp_path):
    model = tmp_path / "model"
    torch.manual_seed(0)
    build_vae(small_cfg).save_pretrained(model / "vae")
    vae_ceiling.main(["--data", str(tiny_split), "--model", str(model), "--runs", str(tmp_path / "runs"),
                      "--out", str(tmp_path / "out"), "--metrics", "psnr,ssim"])
    for clip in Split(tiny_split).clips("test"):
        video = tmp_path / "runs" / "methods" / "vae-reconstruction" / clip.clip_id / "video.mp4"
        info, gt = probe(video), clip.record
        assert (info.n_frames, info.width, info.height) == (gt.n_frames, gt.width, gt.height) and info.has_audio
        assert not np.array_equal(read_video(video)[0], clip.frames()[0])  # a random-init VAE changes the picture
    results = json.loads((tmp_path / "out" / "vae_ceiling.json").read_text())
    assert results["vae"]["sha256"] == vae_ceiling.sha256_file(model / "vae" / "diffusion_pytorch_model.safetensors")
    assert 0 < results["metrics"]["full"]["psnr"]["value"] < 30 and not results["clips"]["failed"]
    lo, hi = results["metrics"]["full"]["psnr"]["ci95"]  # an interval, as every run's results.json has
    assert lo <= results["metrics"]["full"]["psnr"]["value"] <= hi
    assert "VAE ceiling" in (tmp_path / "out" / "vae_ceiling.md").read_text()
    border = results["vae"]["border"]
    assert border["band_px"] == vae_ceiling.BAND and border["mae_band"] > 0 and border["mae_centre"] > 0


def test_border_error_separates_the_outer_band_from_the_centre():
    target = np.full((3, 64, 48, 3), 100, np.uint8)
    recon = target.copy()
    recon[:, :16] += 30  # top band off by 30
    recon[:, 20, 20] = 160  # one centre pixel off by 60
    border = vae_ceiling.BorderError()
    border.update(recon[:1], target[:1])
    border.update(recon[1:], target[1:])  # accumulates over calls exactly
    s = border.summary()
    band_pixels = 64 * 48 - 32 * 16
    assert s["mae_band"] == pytest.approx(30 * 16 * 48 / band_pixels)
    assert s["mae_centre"] == pytest.approx(60 / (32 * 16))


def test_missing_vae_is_named(tiny_split, tmp_path):
    with pytest.raises(DataError, match="no VAE weights"):
        vae_ceiling.main(["--data", str(tiny_split), "--model", str(tmp_path / "nothing"), "--out", str(tmp_path / "out")])
