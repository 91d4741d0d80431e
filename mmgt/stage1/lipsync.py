"""Keypoint lip-audio correlation: does the mouth open when the speech is loud?

Mouth opening per frame is the mean signed vertical gap (lower minus upper, image y points down)
of the three inner-lip pairs (iBUG 61-67, 62-66, 63-65 = joints 85-91, 86-90, 87-89); crossed lips
give a negative opening rather than a spurious positive one. The audio envelope and the Pearson correlation are
:mod:`mmgt.lip_audio`'s (shared with the evaluation harness): a constant mouth (a still pose) scores 0.
"""

from __future__ import annotations

import numpy as np

from mmgt.lip_audio import audio_envelope, pearson
from mmgt.video_io import SAMPLE_RATE

INNER_LIP_PAIRS = ((85, 91), (86, 90), (87, 89))


def mouth_opening(kp: np.ndarray) -> np.ndarray:
    """``(T, 134, 3)`` -> ``(T,)`` signed inner-lip opening in pixels."""
    upper, lower = zip(*INNER_LIP_PAIRS)
    return (kp[:, list(lower), 1] - kp[:, list(upper), 1]).mean(axis=1)


def lip_audio_correlation(kp: np.ndarray, wav: np.ndarray, sample_rate: int = SAMPLE_RATE) -> float:
    return pearson(mouth_opening(kp), audio_envelope(wav, len(kp), sample_rate))
