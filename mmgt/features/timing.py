"""Putting per-frame audio features on the video's frame grid."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def fit_frames(feat: np.ndarray, n_frames: int) -> np.ndarray:
    """Trim ``(T, ...)`` features to ``n_frames``, or pad by repeating the last frame.

    librosa frames are centred, so 3.2 s at hop 512 / 12.8 kHz gives 81 frames for 80 video frames:
    frame k covers the audio around t = k / 25 s, and the trailing extra frame is dropped. A short
    tail (audio shorter than the video) repeats the last frame rather than inventing silence.
    """
    if n_frames <= 0:
        raise ValueError(f"n_frames must be positive, got {n_frames}")
    if feat.shape[0] >= n_frames:
        return feat[:n_frames]
    pad = np.repeat(feat[-1:], n_frames - feat.shape[0], axis=0)
    return np.concatenate([feat, pad], axis=0)


def resample_frames(feat: torch.Tensor, n_frames: int) -> torch.Tensor:
    """Linearly resample ``(T, ...)`` features along time to ``n_frames`` (e.g. 50 Hz -> 25 fps)."""
    flat = feat.reshape(feat.shape[0], -1).T[None]  # (1, C, T)
    out = F.interpolate(flat, size=n_frames, mode="linear", align_corners=False)
    return out[0].T.reshape((n_frames,) + tuple(feat.shape[1:]))
