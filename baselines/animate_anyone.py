"""AnimateAnyone (Hu et al., CVPR 2024) as a video generator: reference image + pose sequence -> frames.

The network is the stage-2 backbone (:mod:`mmgt.stage2`) without audio: ReferenceNet, PoseGuider,
CLIP image token, motion modules; its rows are ``animate-anyone`` (GT poses, Table II) and
``edge+animate-anyone`` (EDGE poses, Table I), composed in :mod:`baselines.methods`. Poses are drawn
by :mod:`mmgt.render` exactly as in training. The paper uses 24-frame context windows; the MMGT
comparison runs it with MMGT's 12/4 windows (the preset's ``inference`` section).
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from mmgt.methods.base import Conditions
from mmgt.methods.stage2_video import Stage2Video
from mmgt.stage2.pipeline import Stage2Pipeline


class AnimateAnyone(Stage2Video):
    """``config.checkpoint``: a stage-2 model folder (default: the committed ``checkpoints/stage2/<preset>``,
    else ``runs/stage2/<preset>/video/model``,
    where ``mmgt train stage2 --step video`` writes it)."""

    name = "animate-anyone"
    description = "AnimateAnyone (ReferenceNet + PoseGuider + motion modules) on rendered poses"

    @cached_property
    def pipeline(self) -> Stage2Pipeline:
        return self.load_pipeline(Stage2Pipeline)

    def render(self, cond: Conditions, poses: np.ndarray) -> np.ndarray:
        frames = self.pipeline(cond.ref_image, poses, seed=self.config.seed, progress=self.config.progress)
        return self.to_clip_size(frames, cond)
