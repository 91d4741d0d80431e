"""Lip-audio correlation maths shared by the stage-1 report and the evaluation harness.

The audio envelope is the RMS of the 16 kHz signal in a 40 ms window centred on each video frame
(``k / fps`` s, zero padding past either end); a clip's score is the Pearson correlation between a
per-frame mouth opening and this envelope.
"""

from __future__ import annotations

import numpy as np

from mmgt.video_io import FPS, SAMPLE_RATE

ENVELOPE_WINDOW_S = 0.04


def audio_envelope(wav: np.ndarray, n_frames: int, sample_rate: int = SAMPLE_RATE, fps: int = FPS) -> np.ndarray:
    """``(n_frames,)`` float64 RMS of a 40 ms window centred on each video frame."""
    half = int(ENVELOPE_WINDOW_S / 2 * sample_rate)
    padded = np.pad(np.asarray(wav, np.float64), (half, half))
    centres = (np.arange(n_frames) * sample_rate / fps).astype(int) + half
    return np.array([np.sqrt(np.mean(padded[c - half : c + half] ** 2)) for c in centres])


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation; 0 when either side is constant."""
    a, b = a - a.mean(), b - b.mean()
    denom = np.sqrt((a**2).sum() * (b**2).sum())
    return float((a * b).sum() / denom) if denom > 1e-12 else 0.0
