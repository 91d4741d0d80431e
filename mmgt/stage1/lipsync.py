"""Keypoint lip-audio correlation: does the mouth open when the speech is loud?

Mouth opening per frame is the mean signed vertical gap (lower minus upper, image y points down)
of the three inner-lip pairs (iBUG 61-67, 62-66, 63-65 = joints 85-91, 86-90, 87-89); crossed lips
give a negative opening rather than a spurious positive one. The audio envelope is the RMS of the 16 kHz signal in a 40 ms
window centred on each frame (k / 25 s). The score of a clip is their Pearson correlation; a
constant mouth (a still pose) scores 0 by definition.
"""

from __future__ import annotations

import numpy as np

from mmgt.video_io import FPS, SAMPLE_RATE

INNER_LIP_PAIRS = ((85, 91), (86, 90), (87, 89))


def mouth_opening(kp: np.ndarray) -> np.ndarray:
    """``(T, 134, 3)`` -> ``(T,)`` signed inner-lip opening in pixels."""
    upper, lower = zip(*INNER_LIP_PAIRS)
    return (kp[:, list(lower), 1] - kp[:, list(upper), 1]).mean(axis=1)


def audio_envelope(wav: np.ndarray, n_frames: int, sample_rate: int = SAMPLE_RATE, fps: int = FPS) -> np.ndarray:
    """``(n_frames,)`` RMS of a 40 ms window centred on each video frame."""
    half = int(0.02 * sample_rate)
    padded = np.pad(np.asarray(wav, np.float64), (half, half))
    centres = (np.arange(n_frames) * sample_rate / fps).astype(int) + half
    return np.array([np.sqrt(np.mean(padded[c - half : c + half] ** 2)) for c in centres])


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation; 0 when either side is constant."""
    a, b = a - a.mean(), b - b.mean()
    denom = np.sqrt((a**2).sum() * (b**2).sum())
    return float((a * b).sum() / denom) if denom > 1e-12 else 0.0


def lip_audio_correlation(kp: np.ndarray, wav: np.ndarray, sample_rate: int = SAMPLE_RATE) -> float:
    return pearson(mouth_opening(kp), audio_envelope(wav, len(kp), sample_rate))
