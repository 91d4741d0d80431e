"""Keypoint lip-audio correlation used by the stage-1 report."""

from __future__ import annotations

import numpy as np
import pytest

from mmgt.stage1.lipsync import audio_envelope, lip_audio_correlation, mouth_opening, pearson


def test_mouth_opening_is_inner_lip_gap():
    kp = np.zeros((2, 134, 3), np.float32)
    kp[1, [89, 90, 91], 1] = [3.0, 6.0, 9.0]  # lower inner lip moves down by 3, 6, 9 px
    assert np.allclose(mouth_opening(kp), [0.0, 6.0])
    kp[1, [89, 90, 91], 1] *= -1  # lower lip above the upper lip: crossed, not open
    assert np.allclose(mouth_opening(kp), [0.0, -6.0])


def test_envelope_follows_loudness_on_the_frame_grid():
    wav = np.zeros(16000, np.float32)
    wav[8000 - 320 : 8000 + 320] = 0.5  # loud exactly around frame 12.5 -> frames 12 and 13 overlap it
    env = audio_envelope(wav, 25)
    assert env.shape == (25,) and env.argmax() in (12, 13) and env[:10].max() == 0.0


def test_pearson_edge_cases():
    a = np.arange(10.0)
    assert pearson(a, 2 * a + 1) == pytest.approx(1.0)
    assert pearson(a, -a) == pytest.approx(-1.0)
    assert pearson(np.ones(10), a) == 0.0


def test_mouth_driven_by_envelope_correlates():
    rng = np.random.default_rng(0)
    env = np.clip(np.sin(np.linspace(0, 12, 80)), 0, None)
    wav = (np.repeat(env, 640) * rng.standard_normal(80 * 640)).astype(np.float32)
    kp = np.zeros((80, 134, 3), np.float32)
    kp[:, 89:92, 1] = 10 * env[:, None]
    assert lip_audio_correlation(kp, wav) > 0.9
    assert lip_audio_correlation(kp[::-1].copy(), wav) < 0.5
