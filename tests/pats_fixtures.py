"""Raw-style PATS sources for the tests: long landscape 30 fps videos whose frames say which source
frame they are, a tone that drops at a known time, and a pose extractor that reads the frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mmgt import keypoints as K
from mmgt import pose
from mmgt.video_io import write_video

SRC_W, SRC_H, SRC_FPS, SRC_SR = 456, 256, 30, 44_100
STEP_AT = 3.0  # the source tone drops from loud to quiet here (seconds)
RAMP_ROWS = slice(0, 180)  # luma = x mod 256: tells which columns a crop kept
CODE_ROWS = (slice(192, 224), slice(224, 256))  # two bands: source frame index in base 16


def raw_frames(seconds: float) -> np.ndarray:
    n = round(seconds * SRC_FPS)
    frames = np.zeros((n, SRC_H, SRC_W, 3), np.uint8)
    frames[:, RAMP_ROWS] = (np.arange(SRC_W) % 256).astype(np.uint8)[None, None, :, None]
    for i in range(n):
        frames[i, CODE_ROWS[0]] = 16 * (i // 16) + 8
        frames[i, CODE_ROWS[1]] = 16 * (i % 16) + 8
    return frames


def raw_audio(seconds: float) -> np.ndarray:
    t = np.arange(round(seconds * SRC_SR)) / SRC_SR
    return (np.where(t < STEP_AT, 0.5, 0.05) * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def source_index(frame: np.ndarray) -> int:
    hi, lo = (int(round((frame[rows].mean() - 8) / 16)) for rows in CODE_ROWS)
    return 16 * hi + lo


class BandReader(pose.PoseExtractor):
    """Test extractor: joint j's x = the frame's code-band brightness (checks frame/keypoint alignment)."""

    name = "band-reader"

    def extract(self, frames):
        kp = np.ones((len(frames), K.NUM_JOINTS, 3), np.float32)
        kp[..., 0] = frames[:, -frames.shape[1] // 8:].mean(axis=(1, 2, 3))[:, None]  # lowest band
        return kp

    def provenance(self):
        return {"extractor": self.name}


def write_source(path: Path, seconds: float) -> Path:
    """A raw-style source video with its audio at ``path``."""
    write_video(path, raw_frames(seconds), fps=SRC_FPS, audio=raw_audio(seconds), sample_rate=SRC_SR)
    return path
