"""Reference rows that need no training: the ground truth (upper bound) and a still image (lower bound)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from mmgt.data.layout import AUDIO, KEYPOINTS, VIDEO, Clip
from mmgt.video_io import atomic_path
from mmgt.methods.base import Generation, Method


class GroundTruth(Method):
    """A byte-exact copy of the ground-truth clip: the upper bound (every metric at its ideal)."""

    name = "gt"
    inputs = ("video", "keypoints")
    description = "ground truth copied (upper bound)"

    def generate(self, clip: Clip) -> Generation:
        return Generation(clip.frames(), clip.keypoints())

    def write(self, clip: Clip, target: Path) -> None:
        clip.frames()  # validate before copying
        for name in (KEYPOINTS, AUDIO, VIDEO):  # video last: it marks the clip complete
            with atomic_path(target / name) as tmp:
                shutil.copyfile(clip.dir / name, tmp)


class Still(Method):
    """The reference frame repeated for every frame (with the real audio muxed): the lower bound."""

    name = "still"
    inputs = ("ref", "ref_pose")
    description = "reference image repeated (lower bound)"

    def generate(self, clip: Clip) -> Generation:
        n = clip.record.n_frames
        frames = np.repeat(clip.ref()[None], n, axis=0)
        ref_pose = clip.keypoints()[:1]
        return Generation(frames, np.repeat(ref_pose, n, axis=0))
