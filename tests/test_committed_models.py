"""Every committed checkpoint folder loads through its own table row's loader (keys strict, config
validated) and runs one denoising step at the smallest input, so a code change that breaks a committed
model fails here, not in `make reproduce-table1`.

tests/conftest.py hides ROOT/checkpoints from the methods' defaults; these tests pass each folder explicitly.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from baselines.animate_anyone import AnimateAnyone
from baselines.edge import EdgePoses
from baselines.hallo import HalloVideo
from baselines.mm_diffusion.method import MMDiffusion
from mmgt import keypoints as K
from mmgt.methods.base import Conditions, MethodConfig
from mmgt.methods.mmgt_video import MMGTNoAudio, MMGTNoMask, MMGTStillMask, MMGTVideo
from mmgt.methods.stage1_poses import Stage1Poses, Stage1PosesNoFaceLoss
from mmgt.provenance import ROOT
from mmgt.stage1.diffusion import GaussianDiffusion

COMMITTED = ROOT / "checkpoints"
LOADS = {"stage1.safetensors": "stage1", "stage2.json": "stage2", "mm_diffusion.json": "mm_diffusion"}  # marker -> kind
FAST = MethodConfig(steps=1, reuse_memory=False)


def committed_folders() -> list[str]:
    """``kind/name`` of every committed checkpoint folder (the folders holding a model's marker file)."""
    manifest = COMMITTED / "manifest.json"
    if not manifest.is_file():
        return []
    return sorted({rel.rsplit("/", 1)[0] for rel in json.loads(manifest.read_text()) if rel.rsplit("/", 1)[-1] in LOADS})


def by_folder(classes, folder_of) -> dict[str, type]:
    return {folder_of(cls): cls for cls in classes}


POSE_SOURCES = by_folder((Stage1Poses, Stage1PosesNoFaceLoss, EdgePoses), lambda cls: f"stage1/{cls.presets['tiny']}")
VIDEO = by_folder((AnimateAnyone, MMGTVideo, MMGTStillMask, MMGTNoMask, MMGTNoAudio, HalloVideo),
                  lambda cls: f"stage2/{cls(FAST).run_name()}")


def test_every_committed_folder_has_a_loader():
    folders = committed_folders()
    if not folders:
        pytest.skip("no checkpoints committed")
    assert set(folders) == set(POSE_SOURCES) | set(VIDEO) | {"mm_diffusion/tiny"}


def smallest_conditions(n: int = 2, size: int = 64) -> Conditions:
    """``n`` frames of a standing figure: every region present, so every branch mask is non-empty."""
    pose = np.zeros((n, K.NUM_JOINTS, 3), np.float32)
    pose[..., 0] = np.linspace(16, 48, K.NUM_JOINTS)
    pose[..., 1] = np.linspace(8, 56, K.NUM_JOINTS)[::-1]
    pose[..., 2] = 1.0
    audio = np.random.default_rng(0).normal(size=16000 * n // 25).astype(np.float32) * 0.1
    return Conditions(clip_id="c", audio=audio, sample_rate=16000, ref_image=np.full((size, size, 3), 128, np.uint8),
                      ref_pose=pose[0], n_frames=n, fps=25.0, pose=pose)


@pytest.mark.parametrize("folder", [f for f in committed_folders() if f.startswith("stage1/")])
def test_committed_stage1_model_loads_and_denoises_one_step(folder):
    source = POSE_SOURCES[folder](replace(FAST, checkpoint=COMMITTED / folder))
    generator = source.generator  # its row's loader: PoseGenerator.from_file (EDGE: also checks the preset)
    generator.diffusion = GaussianDiffusion(replace(generator.cfg.diffusion, sample_steps=1))
    m = generator.cfg.model
    feats = np.random.default_rng(0).normal(size=(m.horizon, m.audio_dim)).astype(np.float32)
    ref = K.Normalizer(64, 64).to_model(smallest_conditions().ref_pose).reshape(K.NUM_VALUES)
    out = generator.generate_model_space(feats, ref)
    assert out.shape == (m.horizon, K.NUM_VALUES) and np.isfinite(out).all()


@pytest.mark.parametrize("folder", [f for f in committed_folders() if f.startswith("stage2/")])
def test_committed_stage2_model_loads_and_renders_one_step(folder, monkeypatch):
    cls = VIDEO[folder]
    video = cls(replace(FAST, checkpoint=COMMITTED / folder))
    cond = smallest_conditions()
    pipeline = video.pipeline  # its row's loader (strict part keys, the variant's MM-HAA switches checked)
    if isinstance(video, MMGTVideo):
        a = pipeline.model.audio_cfg
        features = np.random.default_rng(0).normal(size=(cond.n_frames, a.feature_layers * a.feature_dim))
        monkeypatch.setattr(video, "audio_features", lambda c, n: features.astype(np.float32))
    frames = video.render(cond, cond.pose)
    assert frames.shape == (cond.n_frames, 64, 64, 3) and frames.dtype == np.uint8
    assert frames.std() > 0  # a picture, not a constant


def test_committed_mm_diffusion_loads_and_generates_one_step():
    method = MMDiffusion(replace(FAST, checkpoint=COMMITTED / "mm_diffusion" / "tiny"))
    pipeline = method.pipeline  # hashes recorded in mm_diffusion.json checked, state dicts loaded strictly
    d = pipeline.cfg.diffusion
    fast = replace(pipeline, cfg=replace(pipeline.cfg, diffusion=replace(d, sample_steps=1, sr_sample_steps=1)))
    torch.manual_seed(0)
    frames = fast.generate(smallest_conditions().audio, 16000, 1, 25.0)
    assert frames.shape == (1, pipeline.cfg.sr.out_size, pipeline.cfg.sr.out_size, 3) and frames.dtype == np.uint8
