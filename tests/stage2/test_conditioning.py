"""MMGT stage 2 end to end with trained-like (non-zero) MM-HAA adapters and PoseGuider: the audio reaches
the frames through the branch masks only, each branch through its own mask, prepare_windows hands every
context window its frames' tokens and masks (zero tokens in the unconditional half), and the poses drive
the frames."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from mmgt.stage2.audio_attention import branch_masks, frame_windows
from mmgt.stage2.mmgt_model import MMGTModel
from mmgt.stage2.mmgt_pipeline import MMGTPipeline
from mmgt.stage2.model import make_scheduler
from mmgt.stage2.pipeline import context_windows

from .conftest import activate, build
from .test_mm_haa import TINY_AUDIO, figure_pose

N = 8  # frames: two 6-frame context windows (overlap 2) at the small preset
REF = np.random.default_rng(5).integers(0, 256, (64, 64, 3), dtype=np.uint8)


def live_pipeline(small_cfg, audio_cfg=TINY_AUDIO) -> MMGTPipeline:
    model = activate(MMGTModel.from_backbone(build(small_cfg), audio_cfg))
    return MMGTPipeline(model, make_scheduler(small_cfg.scheduler), small_cfg.inference)


def speech(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(N, 35)).astype(np.float32)


def only_branch(masks: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros_like(masks)
    out[:, k] = masks[:, k]
    return out


POSES = figure_pose(N)
MASKS = branch_masks(POSES, (64, 64))


@pytest.fixture(scope="module")
def pipe(small_cfg) -> MMGTPipeline:
    return live_pipeline(small_cfg)


def test_prepare_windows_gives_each_window_its_frames_tokens_and_masks_and_zero_unconditional_tokens(pipe, monkeypatch):
    seen = []
    set_audio = pipe.model.set_audio

    def spy(tokens, masks):
        seen.append((tokens.clone(), masks.clone()))
        set_audio(tokens, masks)

    chunks = []
    prepare = pipe.prepare_windows
    monkeypatch.setattr(pipe.model, "set_audio", spy)
    monkeypatch.setattr(pipe, "prepare_windows", lambda chunk: (chunks.append(chunk), prepare(chunk)))
    masks = np.random.default_rng(1).random((N, 3, 64, 64), dtype=np.float32)  # a distinct mask per frame and branch
    pipe(REF, POSES, speech(0), masks)
    cfg = pipe.model.audio_cfg
    with torch.no_grad():  # the tokens of every frame, computed apart from the pipeline
        expected = pipe.model.audio.projection(frame_windows(torch.from_numpy(speech(0)).reshape(N, 1, 35), cfg.window))
    windows = context_windows(N, pipe.config.context_frames, pipe.config.context_overlap)
    per_step = [windows[i:i + pipe.config.window_batch] for i in range(0, len(windows), pipe.config.window_batch)]
    assert chunks == per_step * pipe.config.steps and len(seen) == len(chunks)
    for chunk, (tokens, window_masks) in zip(chunks, seen):
        frames = [f for w in chunk for f in w]
        uncond, cond = tokens.chunk(2)
        assert not uncond.any()  # the unconditional half of guidance sees no audio
        torch.testing.assert_close(cond, expected[frames])
        torch.testing.assert_close(window_masks, torch.from_numpy(masks[frames]).repeat(2, 1, 1, 1))
    assert pipe.model.audio.bank.tokens is None and pipe.model.audio.bank.masks is None  # cleared after the call


def test_audio_changes_the_frames_through_the_masks_only(pipe):
    frames = {seed: pipe(REF, POSES, speech(seed), MASKS) for seed in (0, 1)}
    assert np.abs(frames[0].astype(int) - frames[1].astype(int)).mean() > 0.5
    zero = np.zeros_like(MASKS)
    np.testing.assert_array_equal(pipe(REF, POSES, speech(0), zero), pipe(REF, POSES, speech(1), zero))


@pytest.mark.parametrize("branch", range(3))
def test_each_branch_weight_acts_through_its_own_mask(small_cfg, branch):
    """One branch weighted at a time, one branch's mask kept at a time: the audio moves the frames only
    when both are the same branch, so a swap of branches, masks or weights fails."""
    weights = tuple(float(k == branch) for k in range(3))
    one = live_pipeline(small_cfg, replace(TINY_AUDIO, branch_weights=weights))
    for k in range(3):
        masks = only_branch(MASKS, k)
        a, b = one(REF, POSES, speech(0), masks), one(REF, POSES, speech(1), masks)
        assert (not np.array_equal(a, b)) == (k == branch), (branch, k)


def test_without_masks_the_audio_acts_everywhere_and_without_audio_not_at_all(small_cfg):
    unmasked = live_pipeline(small_cfg, replace(TINY_AUDIO, masks="none"))
    zero = np.zeros_like(MASKS)
    assert not np.array_equal(unmasked(REF, POSES, speech(0), zero), unmasked(REF, POSES, speech(1), zero))
    silent = live_pipeline(small_cfg, replace(TINY_AUDIO, audio=False))
    np.testing.assert_array_equal(silent(REF, POSES, speech(0), MASKS), silent(REF, POSES, speech(1), MASKS))
    assert not np.array_equal(silent(REF, POSES, speech(0), MASKS), silent(REF, POSES, speech(0), zero))  # masks still apply


def test_the_poses_drive_the_frames(pipe):
    moved = POSES.copy()
    moved[..., 0] = 63 - moved[..., 0]  # the figure mirrored
    a = pipe(REF, POSES, speech(0), MASKS)
    assert np.abs(a.astype(int) - pipe(REF, moved, speech(0), MASKS).astype(int)).mean() > 0.5
