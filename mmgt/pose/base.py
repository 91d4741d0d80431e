"""The pose-extractor interface and the registry of extractors by name.

An extractor maps ``(T, H, W, 3)`` uint8 RGB frames to ``(T, 134, 3)`` float32 keypoints in the
DWPose layout of :mod:`mmgt.keypoints`: x and y in pixels of the given frames, score in [0, 1].
Joints an extractor cannot see or does not model are scored 0.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Callable

import numpy as np

from mmgt import keypoints as K
from mmgt.errors import MMGTError


class PoseExtractor(ABC):
    """Frames in, 134-joint keypoints out. Subclasses set ``name`` and implement ``extract``."""

    name: str = ""

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(f"frames must be (T, H, W, 3) uint8 RGB, got {frames.shape} {frames.dtype}")
        kp = np.asarray(self.extract(frames), dtype=np.float32)
        K.check_shape(kp)
        if kp.shape[0] != frames.shape[0]:
            raise RuntimeError(f"pose extractor {self.name} returned {kp.shape[0]} frames for {frames.shape[0]}")
        return kp

    @abstractmethod
    def extract(self, frames: np.ndarray) -> np.ndarray:
        """Keypoints ``(T, 134, 3)`` for validated ``(T, H, W, 3)`` uint8 RGB frames."""

    @abstractmethod
    def provenance(self) -> dict:
        """Name, model files (with sha256 where known) or package versions, and settings."""


def zero_joints(kp: np.ndarray, joints: tuple[int, ...] = K.LOWER_BODY) -> np.ndarray:
    """Copy of ``kp`` with ``joints`` zeroed (x, y and score), as the release does for knees/ankles."""
    out = np.array(kp, dtype=np.float32, copy=True)
    out[..., list(joints), :] = 0.0
    return out


_FACTORIES: dict[str, Callable[[], PoseExtractor]] = {}


def register(name: str, factory: Callable[[], PoseExtractor]) -> None:
    """Make ``create(name)`` call ``factory`` (a class or a function that imports lazily)."""
    if not name or not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"pose extractor names are alphanumeric (with - or _), got {name!r}")
    _FACTORIES[name] = factory


def unregister(name: str) -> None:
    _FACTORIES.pop(name, None)


def available() -> list[str]:
    """Registered extractor names, sorted."""
    return sorted(_FACTORIES)


def factory(name: str) -> Callable[[], PoseExtractor]:
    """What builds the extractor registered as ``name``; unknown names give one line listing the valid ones."""
    try:
        return _FACTORIES[name]
    except KeyError:
        raise MMGTError(f"unknown pose extractor {name!r}; choose from {', '.join(available())}") from None


def create(name: str) -> PoseExtractor:
    """Build the extractor registered as ``name``."""
    return factory(name)()
