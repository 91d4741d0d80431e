"""Training: the loss falls on a fixed batch, runs resume, one scheduler configuration end to end."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from mmgt.errors import DataError, MMGTError
from mmgt.stage2.checkpoint import load_model
from mmgt.stage2.data import Batch, encode_split, sample_batch
from mmgt.stage2.model import make_scheduler, scheduler_settings
from mmgt.stage2.pipeline import Stage2Pipeline
from mmgt.stage2.train import RunOptions, diffusion_loss, train, trainable

from tests.training_state import assert_same_state

from .conftest import build


def test_a_few_steps_lower_the_loss_on_a_fixed_batch(small_cfg):
    model = build(small_cfg).train()
    g = torch.Generator().manual_seed(0)
    h, r, c = small_cfg.resolution // small_cfg.vae.downsample, small_cfg.resolution, small_cfg.unet.latent_channels
    batch = Batch(torch.randn(2, c, 1, h, h, generator=g), torch.rand(2, 3, 1, r, r, generator=g),
                  torch.randn(2, c, h, h, generator=g), torch.rand(2, 3, r, r, generator=g) * 2 - 1)
    scheduler = make_scheduler(small_cfg.scheduler)
    params = trainable(model, "image")
    optimizer = torch.optim.AdamW(params, lr=1e-3)

    def loss() -> torch.Tensor:  # the same noise, timesteps and dropout every time
        return diffusion_loss(model, scheduler, batch, small_cfg.train, torch.Generator().manual_seed(5))

    with torch.no_grad():
        before = float(loss())
    for _ in range(8):
        value = loss()
        value.backward()
        optimizer.step()
        optimizer.zero_grad()
    with torch.no_grad():
        after = float(loss())
    assert after < 0.8 * before


def test_image_step_pairs_frames_far_apart_and_video_step_takes_clips(small_cfg, trained, tiny_split):
    model, _, _ = load_model(trained["image"])
    data = encode_split(model, tiny_split, "train", progress=False)
    rng = np.random.default_rng(0)
    image = sample_batch(data, rng, 3, 1, small_cfg.resolution, small_cfg.train.min_ref_distance)
    h, c = small_cfg.resolution // small_cfg.vae.downsample, small_cfg.unet.latent_channels
    assert image.latents.shape == (3, c, 1, h, h) and image.pose.shape == (3, 3, 1, 64, 64)
    assert image.ref_images.shape == (3, 3, 64, 64) and image.ref_images.min() >= -1
    video = sample_batch(data, rng, 1, 12, small_cfg.resolution, small_cfg.train.min_ref_distance)
    assert video.latents.shape == (1, c, 12, h, h) and video.pose.shape == (1, 3, 12, 64, 64)
    with pytest.raises(ValueError, match="away"):
        sample_batch(data, rng, 1, 1, small_cfg.resolution, 81)


def test_training_and_inference_share_one_scheduler_configuration(small_cfg, trained):
    expected = scheduler_settings(make_scheduler(small_cfg.scheduler))
    assert expected["prediction_type"] == "v_prediction" and expected["rescale_betas_zero_snr"]
    assert expected["timestep_spacing"] == "trailing"
    for step in ("image", "video"):
        model, scheduler, meta = load_model(trained[step])
        assert meta["stage"] == step and model.video == (step == "video")
        assert scheduler_settings(scheduler) == expected
        assert scheduler_settings(Stage2Pipeline.from_folder(trained[step]).scheduler) == expected
    alphas = make_scheduler(small_cfg.scheduler).alphas_cumprod
    assert float(alphas[-1]) < 1e-6  # zero terminal SNR


def test_a_checkpoint_with_another_scheduler_is_refused(trained, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(trained["image"], folder)
    path = folder / "scheduler" / "scheduler_config.json"
    path.write_text(json.dumps(json.loads(path.read_text()) | {"beta_schedule": "linear"}))
    with pytest.raises(DataError, match="scheduler"):
        load_model(folder)


def test_resumed_steps_equal_uninterrupted_steps_bit_for_bit(small_cfg, trained, tiny_split, tmp_path):
    """The fixture's 2 video steps resumed for 1 more (in a copy) give the bits of 3 uninterrupted steps:
    the model and the whole accelerate state (weights, AdamW moments, RNG). (The logged loss is a mean
    since the previous row, so a row right after a resume may cover fewer steps: docs/STAGE2.md.)"""
    run = Path(shutil.copytree(trained["run"], tmp_path / "resumed"))
    image = run / "image"
    assert (image / "loss.png").is_file() and (image / "checkpoints" / "step-000002").is_dir()
    common = {"data": str(tiny_split), "vae": str(run / "vae"), "init": str(image / "model"), "steps": 3,
              "progress": False, "cache_dir": str(run / "cache")}
    train(small_cfg, RunOptions(out=str(run), **common), "video")  # resumes from step 2: one more step
    assert json.loads((run / "video" / "model" / "stage2.json").read_text())["step"] == 3
    rows = (run / "video" / "losses.csv").read_text().splitlines()
    assert rows[0] == "step,loss" and [r.split(",")[0] for r in rows[1:]] == ["2", "3"]
    straight = tmp_path / "straight"
    train(small_cfg, RunOptions(out=str(straight), **common), "video")
    for folder in ("model", "checkpoints/step-000003"):
        assert_same_state(run / "video" / folder, straight / "video" / folder)
    vae_metrics = json.loads((trained["vae"] / "metrics.json").read_text())
    assert vae_metrics["psnr_test"] > 0 and vae_metrics["scaling_factor"] > 0


def test_the_tiny_preset_needs_a_trained_vae(small_cfg, tiny_split, tmp_path):
    with pytest.raises(MMGTError, match="VAE"):
        train(small_cfg, RunOptions(data=str(tiny_split), out=str(tmp_path), steps=1, progress=False, cache_dir=str(tmp_path)), "image")
