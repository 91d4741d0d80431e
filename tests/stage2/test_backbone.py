"""The backbone's wiring: reference features reach the denoiser by module path; zero-init parts are identities."""

from __future__ import annotations

import pytest
import torch

from mmgt.stage2.reference import ReferenceBank, self_attention_paths

from .conftest import build


def inputs(cfg, batch: int = 2, frames: int = 3, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    h, c = cfg.resolution // cfg.vae.downsample, cfg.unet.latent_channels
    return dict(
        noisy=torch.randn(batch, c, frames, h, h, generator=g), t=torch.tensor([5, 600][:batch]),
        pose=torch.rand(batch, 3, frames, cfg.resolution, cfg.resolution, generator=g),
        ref_latents=torch.randn(batch, c, h, h, generator=g),
        ref_images=torch.rand(batch, 3, cfg.resolution, cfg.resolution, generator=g) * 2 - 1,
    )


def run(model, x, keep):
    with torch.no_grad():
        return model(**x, keep=torch.tensor(keep))


def test_reference_pairs_every_spatial_self_attention_by_path(small_cfg):
    model = build(small_cfg)
    paths = self_attention_paths(model.denoiser)
    assert model.reference_paths == self_attention_paths(model.reference_net) and sorted(paths) == sorted(model.reference_paths)
    assert all(p.endswith("attn1") for p in paths) and any(p.startswith("up_blocks") for p in paths)
    model.add_motion()
    assert sorted(model.reference_paths) == sorted(paths)  # motion modules' attentions are not paired
    assert any("motion_modules" in name for name in model.denoiser.attn_processors)


def test_reference_features_change_the_output_and_dropping_them_is_exact(small_cfg):
    model = build(small_cfg)
    x = inputs(small_cfg)
    with_ref, without = run(model, x, [True, True]), run(model, x, [False, False])
    assert (with_ref - without).abs().amax(dim=(1, 2, 3, 4)).min() > 1e-3
    # dropping the references equals a denoiser that never saw any (stock self-attention)
    context = torch.zeros(2, 1, small_cfg.unet.cross_attention_dim)
    with torch.no_grad():
        plain = model.denoise(x["noisy"], x["t"], model.pose_features(x["pose"]), context, {}, torch.tensor([True, True]))
    torch.testing.assert_close(without, plain, atol=1e-5, rtol=1e-4)
    # the keep mask is per sample: sample 0 keeps, sample 1 drops
    mixed = run(model, x, [True, False])
    torch.testing.assert_close(mixed[0], with_ref[0], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(mixed[1], without[1], atol=1e-5, rtol=1e-4)
    # a different reference image changes the conditional output
    other = dict(x, ref_latents=torch.randn_like(x["ref_latents"]))
    assert (run(model, other, [True, True]) - with_ref).abs().max() > 1e-3


def test_reference_bank_rejects_negative_scale():
    with pytest.raises(ValueError, match="scale"):
        ReferenceBank(scale=-1.0)


def test_zero_init_pose_guider_leaves_the_output_unchanged(small_cfg):
    model = build(small_cfg)
    x = inputs(small_cfg)
    base = run(model, x, [True, True])
    torch.testing.assert_close(run(model, dict(x, pose=torch.rand_like(x["pose"])), [True, True]), base, atol=0, rtol=0)
    torch.nn.init.normal_(model.pose_guider.conv_out.weight, std=1.0)  # once trained, the pose matters
    assert (run(model, dict(x, pose=torch.rand_like(x["pose"])), [True, True]) - run(model, x, [True, True])).abs().max() > 1e-4


def test_zero_init_motion_modules_leave_the_output_unchanged(small_cfg):
    model = build(small_cfg)
    x = inputs(small_cfg, frames=4)
    per_frame = run(model, x, [True, False])
    model.add_motion()
    assert model.video and model.motion_parameters()
    torch.testing.assert_close(run(model, x, [True, False]), per_frame, atol=2e-5, rtol=1e-4)
    for p in model.motion_parameters():  # once trained, frames interact
        torch.nn.init.normal_(p, std=0.05)
    assert (run(model, x, [True, False]) - per_frame).abs().max() > 1e-4
