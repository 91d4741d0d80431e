"""EDGE (Tseng et al., CVPR 2023) adapted to 2D DWPose keypoints: audio -> pose.

It is the audio -> pose half of the EDGE + AnimateAnyone and EDGE + Hallo baselines, and MMGT's
"w/o SMGA" ablation. Nothing here re-implements a network: EDGE is stage 1 with one stream, so it
runs on the same transformer (:class:`mmgt.stage1.smga.SMGA`, ``dual_stream=False``), the same
Gaussian diffusion and DDIM sampler (:mod:`mmgt.stage1.diffusion`), the same training loop and the
same audio features. What differs is configuration, fixed by the presets ``edge_tiny.yaml`` and
``edge_paper.yaml``:

- a single decoder stream over the whole 402-d pose (self-attention + FiLM, cross-attention +
  FiLM, feed-forward + FiLM per layer: EDGE's ``FiLMTransformerDecoderLayer``);
- losses position + velocity + acceleration only (EDGE's foot-contact loss does not apply to
  upper-body 2D video, and it has no face term);
- long audio as half-overlapping windows denoised together (:func:`mmgt.stage1.longform.overlapping`).

Train: ``mmgt train stage1 --preset edge-tiny`` (or ``edge-paper``). Generate: :func:`load`.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from mmgt.errors import DataError
from mmgt.methods.stage1_poses import Stage1Poses
from mmgt.stage1.config import Stage1Config, load_config
from mmgt.stage1.generate import PoseGenerator

PRESETS = {"tiny": "edge-tiny", "paper": "edge-paper"}


def is_edge(cfg: Stage1Config) -> bool:
    """EDGE's defining settings: one stream, no face term, half-overlap long form."""
    return not cfg.model.dual_stream and cfg.loss.face_weight == 0 and cfg.generation.long_form == "overlap"


def config(size: str = "tiny", overrides: tuple[str, ...] = ()) -> Stage1Config:
    """The EDGE preset of a size (``tiny`` or ``paper``), with optional ``section.field=value`` overrides."""
    if size not in PRESETS:
        raise ValueError(f"EDGE size must be one of {sorted(PRESETS)}, got {size!r}")
    return load_config(PRESETS[size], overrides)


def load(path: str | Path, **kwargs) -> PoseGenerator:
    """A trained EDGE model ready to generate; refuses a model trained with another preset."""
    generator = PoseGenerator.from_file(path, **kwargs)
    if not is_edge(generator.cfg):
        raise DataError(path, f"not an EDGE model (preset {generator.cfg.name!r}); train one with an edge-* preset")
    return generator


class EdgePoses(Stage1Poses):
    """EDGE as the pose source of the two-stage baselines (default model ``runs/stage1/edge-<size>``)."""

    name = "edge"
    description = "EDGE poses from speech"
    presets = PRESETS

    @cached_property
    def generator(self) -> PoseGenerator:
        return load(self.checkpoint, device=self.config.device)
