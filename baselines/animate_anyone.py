"""AnimateAnyone (Hu et al., CVPR 2024) as a video generator: reference image + pose sequence -> frames.

The network is the stage-2 backbone (:mod:`mmgt.stage2`) without audio: ReferenceNet, PoseGuider,
CLIP image token, motion modules; its rows are ``animate-anyone`` (GT poses, Table II) and
``edge+animate-anyone`` (EDGE poses, Table I), composed in :mod:`baselines.methods`. Poses are drawn
by :mod:`mmgt.render` exactly as in training. The paper uses 24-frame context windows; the MMGT
comparison runs it with MMGT's 12/4 windows (the preset's ``inference`` section).
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import cv2
import numpy as np

from mmgt.errors import MMGTError
from mmgt.methods.base import Conditions, MethodConfig, VideoGenerator
from mmgt.checkpoints import default_checkpoint
from mmgt.stage2.checkpoint import META
from mmgt.stage2.pipeline import Stage2Pipeline
from mmgt.weights import sha256_file

RUNS = Path("runs/stage2")
PRESETS = ("tiny", "paper")


class AnimateAnyone(VideoGenerator):
    """``config.checkpoint``: a stage-2 model folder (default: the committed ``checkpoints/stage2/<preset>``,
    else ``runs/stage2/<preset>/video/model``,
    where ``mmgt train stage2 --step video`` writes it)."""

    name = "animate-anyone"
    description = "AnimateAnyone (ReferenceNet + PoseGuider + motion modules) on rendered poses"

    def __init__(self, config: MethodConfig = MethodConfig()):
        super().__init__(config)
        if config.preset not in PRESETS:
            raise MMGTError(f"{self.name}: preset must be one of {PRESETS}, got {config.preset!r}")
        self.checkpoint = (Path(config.checkpoint) if config.checkpoint
                           else default_checkpoint(f"stage2/{config.preset}", RUNS / config.preset / "video" / "model"))

    @cached_property
    def pipeline(self) -> Stage2Pipeline:
        return Stage2Pipeline.from_folder(self.checkpoint, self.config.device)

    def render(self, cond: Conditions, poses: np.ndarray) -> np.ndarray:
        frames = self.pipeline(cond.ref_image, poses, seed=self.config.seed)
        width, height = cond.size
        if frames.shape[1:3] == (height, width):
            return frames
        return np.stack([cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA) for f in frames])

    def provenance(self) -> dict:
        weights = sorted(self.checkpoint.glob("*/*.safetensors")) if self.checkpoint.is_dir() else []
        return super().provenance() | {
            "checkpoint": str(self.checkpoint),
            "checkpoint_sha256": {str(p.relative_to(self.checkpoint)): sha256_file(p) for p in weights} or None,
            "model_card": str(self.checkpoint / META),
        }
