"""Rows and pose sources that need no training.

- ``gt``: the ground-truth clip copied (the upper bound); the only row that reads the GT video.
- ``still``: the reference frame repeated with the real audio (the lower bound).
- :class:`GroundTruthPoses`: the GT pose sequence as a pose source (Table II's pose-driven rows).
- :class:`StillPoses`: the reference pose repeated.
- :class:`PoseVideo`: a pose sequence drawn as a pose video (stage-1 rows through the harness).
"""

from __future__ import annotations

import numpy as np

from mmgt.methods.base import Conditions, Generation, Method, PoseSource, VideoGenerator
from mmgt.render import render_pose_video


class GroundTruth(Method):
    """A byte-exact copy of the ground-truth clip: every metric at its ideal (written by the runner)."""

    name = "gt"
    driven_by = "ground-truth"
    description = "ground truth copied (upper bound)"

    def generate(self, cond: Conditions) -> Generation:
        raise TypeError("the gt row copies the clip's files; the runner does that")


class Still(Method):
    """The reference frame repeated for every frame (with the real audio muxed): the lower bound."""

    name = "still"
    description = "reference image repeated (lower bound)"

    def generate(self, cond: Conditions) -> Generation:
        frames = np.repeat(cond.ref_image[None], cond.n_frames, axis=0)
        return Generation(frames, StillPoses(self.config).poses(cond))


class GroundTruthPoses(PoseSource):
    """The clip's ground-truth keypoints (pose-driven rows)."""

    name = "gt-pose"
    driven_by = "pose"
    description = "ground-truth poses"

    def poses(self, cond: Conditions) -> np.ndarray:
        if cond.pose is None:
            raise ValueError("GroundTruthPoses needs pose-driven conditions")
        return cond.pose


class StillPoses(PoseSource):
    """The reference pose repeated."""

    name = "still-pose"
    description = "reference pose repeated"

    def poses(self, cond: Conditions) -> np.ndarray:
        return np.repeat(cond.ref_pose[None], cond.n_frames, axis=0)


class PoseVideo(VideoGenerator):
    """The pose sequence drawn as a pose video (mmgt.render): lets pose-only rows (stage 1) go through
    the method runner and the harness like any other row."""

    name = "pose-video"
    description = "pose video rendered from the keypoints"

    def render(self, cond: Conditions, poses: np.ndarray) -> np.ndarray:
        return render_pose_video(poses, cond.size)
