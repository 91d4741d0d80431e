"""The half-body metrics' sanity sweep on the tiny split: GT first, then worse under the damage each should see."""

from __future__ import annotations

import numpy as np
import pytest

from eval.config import EvalConfig
from mmgt.data.layout import Split
from mmgt.experiments.sanity import KEYPOINT_NOISE, Degradation, blur_hands, monotone, other_speakers_clip, run


def base(split, runs, metrics) -> EvalConfig:
    return EvalConfig(pred=split, gt=split, metrics=metrics, regions=("full",), cache_dir=runs / "cache", progress=False)


def test_keypoint_noise_makes_jitter_monotonically_worse(tiny_split, tmp_path):
    variants = [Degradation()] + [Degradation(keypoint_noise=n) for n in KEYPOINT_NOISE]
    res = run(tiny_split, tmp_path, base(tiny_split, tmp_path, ("jitter",)), variants)
    names = [f"kpnoise{n:g}" for n in KEYPOINT_NOISE]
    assert monotone(res, "jitter_body", names, "lower") and monotone(res, "jitter_hand", names, "lower")
    assert not monotone(res, "jitter_body", names[::-1], "lower")


def test_other_speakers_clip_and_hand_blur_degradations(tiny_split):
    clips = Split(tiny_split).clips("test")
    other = other_speakers_clip(clips[0], clips)
    assert other.record.speaker != clips[0].record.speaker
    gen = Degradation(other_speaker=True).apply(clips[0], clips)
    np.testing.assert_array_equal(gen.keypoints, other.keypoints())
    frames, kp = clips[0].frames().astype(np.float32), clips[0].keypoints()
    blurred = blur_hands(frames, kp, 4.0)
    changed = np.flatnonzero(np.abs(blurred - frames).max(axis=(0, 3)).max(axis=0))  # columns touched
    hand_x = kp[..., 92:, 0][kp[..., 92:, 2] > 0.3]
    assert changed.size and hand_x.min() - 13 <= changed.min() and changed.max() <= hand_x.max() + 13


@pytest.mark.slow
def test_hand_blur_and_another_speaker_score_lower(tiny_split, tmp_path):
    variants = [Degradation(), Degradation(hand_blur=8.0), Degradation(other_speaker=True)]
    res = run(tiny_split, tmp_path, base(tiny_split, tmp_path, ("hkc_mp", "csim_dlib")), variants)
    assert res["other-speaker"]["human"]["csim_dlib"] < res["gt"]["human"]["csim_dlib"]
    assert res["handblur8"]["human"]["hkc_mp"] < res["gt"]["human"]["hkc_mp"]
