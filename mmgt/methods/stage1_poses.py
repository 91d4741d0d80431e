"""Stage 1 as a pose source: a trained SMGA (or EDGE, :mod:`baselines.edge`) model turns speech and the
reference pose into a pose sequence."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import numpy as np

from mmgt.checkpoints import default_checkpoint
from mmgt.errors import MMGTError
from mmgt.methods.base import Conditions, MethodConfig, PoseSource
from mmgt.stage1.checkpoint import MODEL_FILE
from mmgt.stage1.generate import PoseGenerator
from mmgt.weights import sha256_file

RUNS = Path("runs/stage1")


class Stage1Poses(PoseSource):
    """SMGA poses. ``config.preset`` picks the size; ``config.checkpoint`` the trained model
    (default: the committed ``checkpoints/stage1/<preset name>``, else ``runs/stage1/<preset name>``,
    where ``mmgt train stage1`` writes it)."""

    name = "smga"
    description = "SMGA (stage 1) poses from speech"
    presets: dict[str, str] = {"tiny": "tiny", "paper": "paper"}

    def __init__(self, config: MethodConfig = MethodConfig()):
        super().__init__(config)
        if config.preset not in self.presets:
            raise MMGTError(f"{self.name}: preset must be one of {sorted(self.presets)}, got {config.preset!r}")
        preset = self.presets[config.preset]
        self.checkpoint = Path(config.checkpoint) if config.checkpoint else default_checkpoint(f"stage1/{preset}", RUNS / preset)
        if self.checkpoint.is_dir():
            self.checkpoint = self.checkpoint / MODEL_FILE

    @cached_property
    def generator(self) -> PoseGenerator:
        return PoseGenerator.from_file(self.checkpoint, device=self.config.device)

    def poses(self, cond: Conditions) -> np.ndarray:
        wav = cond.audio_path if cond.audio_path is not None else cond.audio
        return self.generator.generate(wav, cond.ref_pose, cond.size, n_frames=cond.n_frames, seed=self.config.seed)

    def missing_models(self) -> list[Path]:
        return [] if self.checkpoint.is_file() else [self.checkpoint]

    def provenance(self) -> dict:
        sha = sha256_file(self.checkpoint) if self.checkpoint.is_file() else None
        return super().provenance() | {"checkpoint": str(self.checkpoint), "checkpoint_sha256": sha}


class Stage1PosesNoFaceLoss(Stage1Poses):
    """Table III "w/o L_face": SMGA trained without the face term (``*-no-face-loss`` presets)."""

    name = "smga-no-face-loss"
    description = "SMGA (stage 1) poses from speech, trained without the face loss"
    presets = {"tiny": "tiny-no-face-loss", "paper": "paper-no-face-loss"}
