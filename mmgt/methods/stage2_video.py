"""What every stage-2 video generator shares: its model folder (committed checkpoint, else its run),
preset validation, frames resized to the clip's size, and provenance with the weights' hashes."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from mmgt.checkpoints import default_checkpoint
from mmgt.errors import MMGTError
from mmgt.memory import reuse_freed_memory
from mmgt.methods.base import Conditions, MethodConfig, VideoGenerator
from mmgt.stage2.checkpoint import META
from mmgt.weights import sha256_file

RUNS = Path("runs/stage2")
PRESETS = ("tiny", "paper")


class Stage2Video(VideoGenerator):
    """A stage-2 model folder: ``config.checkpoint``, else the committed ``checkpoints/stage2/<run>``,
    else ``runs/stage2/<run>/video/model`` (where training writes it); ``run_name`` names ``<run>``."""

    def __init__(self, config: MethodConfig = MethodConfig()):
        super().__init__(config)
        if config.preset not in PRESETS:
            raise MMGTError(f"{self.name}: preset must be one of {PRESETS}, got {config.preset!r}")
        run = self.run_name()
        self.checkpoint = Path(config.checkpoint) if config.checkpoint else default_checkpoint(
            f"stage2/{run}", RUNS / run / "video" / "model")

    def run_name(self) -> str:
        return self.config.preset

    def load_pipeline(self, pipeline_class):
        """``pipeline_class.from_folder`` on the model folder with the config's inference settings
        (``steps``, ``sampler``); with ``config.reuse_memory`` this process keeps freed memory mapped from now on."""
        if self.config.reuse_memory:
            reuse_freed_memory()
        overrides = {k: v for k in ("steps", "sampler") if (v := getattr(self.config, k)) is not None}
        return pipeline_class.from_folder(self.checkpoint, self.config.device, **overrides)

    @staticmethod
    def to_clip_size(frames: np.ndarray, cond: Conditions) -> np.ndarray:
        """Generated frames at the clip's frame size."""
        width, height = cond.size
        if frames.shape[1:3] == (height, width):
            return frames
        return np.stack([cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA) for f in frames])

    def missing_models(self) -> list[Path]:
        return [] if (self.checkpoint / META).is_file() else [self.checkpoint]

    def provenance(self) -> dict:
        # the weights and the model card (its inference settings: sampler, steps, guidance, windows)
        weights = sorted([*self.checkpoint.glob("*/*.safetensors"), *self.checkpoint.glob(META)]) if self.checkpoint.is_dir() else []
        return super().provenance() | {
            "checkpoint": str(self.checkpoint),
            "checkpoint_sha256": {str(p.relative_to(self.checkpoint)): sha256_file(p) for p in weights} or None,
            "model_card": str(self.checkpoint / META),
        }
