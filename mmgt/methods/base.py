"""The interface every row of a benchmark table implements.

A method turns one test clip's *conditions* into an ``n_frames`` video (optionally with the keypoints
it drove the video with). What a method may read is fixed by :class:`Conditions`, built by the runner
(:mod:`mmgt.methods.runner`): speech, the reference image and its pose, and for pose-driven methods the
ground-truth pose sequence. The ground-truth video is never part of it, so an audio-driven method
cannot see the answer.

A two-stage row is a :class:`PoseSource` (GT keypoints, SMGA, EDGE) composed with a
:class:`VideoGenerator` (AnimateAnyone, MMGT stage 2): :class:`mmgt.methods.compose.Composed`.
Every method is built from a name and a :class:`MethodConfig` (:mod:`mmgt.methods.registry`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np

DrivenBy = Literal["audio", "pose", "ground-truth"]
DRIVEN_BY: tuple[str, ...] = ("audio", "pose", "ground-truth")


@dataclass(frozen=True)
class MethodConfig:
    """What builds a method: model size, trained weights, device and sampling seed.

    ``checkpoint`` is the method's main model (None: the method's default location);
    ``pose_checkpoint`` the pose source's model in a composed two-stage row; ``steps`` the denoising
    steps of a stage-2 video model and ``sampler`` its solver (None: its checkpoint's); ``progress`` shows per-stage progress bars;
    ``reuse_memory`` keeps freed memory mapped once a stage-2 model loads (:mod:`mmgt.memory`: ~10%
    faster generation on CPU, identical frames; the process's memory stays at its peak). Neither of the
    last two is part of the provenance: they do not change outputs.
    """

    preset: str = "tiny"
    checkpoint: Path | None = None
    pose_checkpoint: Path | None = None
    device: str = "cpu"
    seed: int = 0
    steps: int | None = None
    sampler: str | None = None
    progress: bool = False
    reuse_memory: bool = True

    def to_dict(self) -> dict:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()
                if k not in ("progress", "reuse_memory")}


@dataclass(frozen=True)
class Conditions:
    """Everything a generative method may read for one clip (never the ground-truth video)."""

    clip_id: str
    audio: np.ndarray  # (S,) float32 mono at sample_rate
    sample_rate: int
    ref_image: np.ndarray  # (H, W, 3) uint8: frame 0 of the clip
    ref_pose: np.ndarray  # (134, 3) pixel keypoints of frame 0
    n_frames: int
    fps: float
    pose: np.ndarray | None = None  # (T, 134, 3) GT keypoints: pose-driven methods only
    audio_path: Path | None = None  # the wav the audio came from (feature caches key on it)

    @property
    def size(self) -> tuple[int, int]:
        """Frame ``(width, height)``."""
        return self.ref_image.shape[1], self.ref_image.shape[0]


@dataclass
class Generation:
    """A method's output for one clip: ``(T, H, W, 3)`` uint8 frames and optional pixel keypoints."""

    frames: np.ndarray
    keypoints: np.ndarray | None = None


class Component(ABC):
    """Something built from a :class:`MethodConfig` that records what produced its outputs."""

    name: str = ""
    description: str = ""

    def __init__(self, config: MethodConfig = MethodConfig()):
        self.config = config

    def provenance(self) -> dict:
        """What produces the outputs (settings, checkpoints and their hashes); no timestamps, so two
        builds of the same method compare equal."""
        return {"name": self.name, "description": self.description, "config": self.config.to_dict()}

    def missing_models(self) -> list[Path]:
        """Trained model files or folders this component needs and cannot find (none: it can run)."""
        return []


class Method(Component):
    """A table row. ``driven_by`` decides which conditions the runner hands to :meth:`generate`."""

    driven_by: DrivenBy = "audio"

    @abstractmethod
    def generate(self, cond: Conditions) -> Generation:
        """The clip's video from its conditions."""

    def provenance(self) -> dict:
        return super().provenance() | {"method": self.name, "driven_by": self.driven_by}


class PoseSource(Component):
    """The first stage of a two-stage row: conditions -> ``(T, 134, 3)`` pixel keypoints."""

    driven_by: DrivenBy = "audio"

    @abstractmethod
    def poses(self, cond: Conditions) -> np.ndarray:
        """Pixel keypoints for every frame of the clip."""


class VideoGenerator(Component):
    """The second stage: reference image + a pose sequence (+ audio) -> ``(T, H, W, 3)`` uint8 frames."""

    @abstractmethod
    def render(self, cond: Conditions, poses: np.ndarray) -> np.ndarray:
        """Frames following ``poses``, with the reference image's appearance."""
