"""The ``mm-diffusion`` table row: speech in, video out; the reference image is not used.

MM-Diffusion has no identity or pose input, so every clip's appearance comes from what the model
learnt from the training split; provenance records ``"ignores": ["ref_image", "ref_pose"]``.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import torch
import torch.nn.functional as F

from mmgt.checkpoints import default_checkpoint
from mmgt.errors import MMGTError
from mmgt.methods.base import Conditions, Generation, Method, MethodConfig

from baselines.mm_diffusion.checkpoint import INDEX, read_index
from baselines.mm_diffusion.generate import Pipeline

RUNS = Path("runs/mm_diffusion")
PRESETS = ("tiny", "paper")


class MMDiffusion(Method):
    """MM-Diffusion retrained on the split. ``config.checkpoint``: the run folder (default: the committed
    ``checkpoints/mm_diffusion/<preset>``, else ``runs/mm_diffusion/<preset>``, where ``mmgt train
    mm-diffusion`` writes it)."""

    name = "mm-diffusion"
    driven_by = "audio"
    description = "MM-Diffusion: coupled audio-video diffusion, audio-conditioned by replacement; no reference image"

    def __init__(self, config: MethodConfig = MethodConfig(), pipeline: Pipeline | None = None):
        super().__init__(config)
        if config.preset not in PRESETS:
            raise MMGTError(f"{self.name}: preset must be one of {list(PRESETS)}, got {config.preset!r}")
        self.run = Path(config.checkpoint) if config.checkpoint else default_checkpoint(f"mm_diffusion/{config.preset}", RUNS / config.preset)
        if pipeline is not None:
            self.__dict__["pipeline"] = pipeline

    @cached_property
    def pipeline(self) -> Pipeline:
        return Pipeline.load(self.run, self.config.device)

    def generate(self, cond: Conditions) -> Generation:
        frames = self.pipeline.generate(cond.audio, cond.sample_rate, cond.n_frames, cond.fps, seed=self.config.seed)
        w, h = cond.size
        if frames.shape[1:3] != (h, w):  # the model is square at sr.out_size; fit other clip sizes
            x = torch.from_numpy(frames).permute(0, 3, 1, 2).float()
            frames = F.interpolate(x, size=(h, w), mode="bilinear", antialias=True).round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()
        return Generation(frames)

    def missing_models(self) -> list[Path]:
        return [] if (self.run / INDEX).is_file() else [self.run]

    def provenance(self) -> dict:
        index = read_index(self.run) if (self.run / INDEX).is_file() else None
        models = {k: {"sha256": v["sha256"], "step": v["step"]} for k, v in (index or {}).get("models", {}).items()}
        return super().provenance() | {
            "ignores": ["ref_image", "ref_pose"],
            "note": "no identity control: appearance comes from the training data, not the reference image",
            "checkpoint": self.__dict__["pipeline"].source if "pipeline" in self.__dict__ else str(self.run),
            "models": models,
            "model_config": self.pipeline.cfg.to_dict() if "pipeline" in self.__dict__ else (index or {}).get("config"),
        }
