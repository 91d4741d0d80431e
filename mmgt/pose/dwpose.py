"""DWPose (YOLOX-L person detector + RTMPose-l whole-body, ONNX through onnxruntime).

Per frame: people are detected on the BGR frame (:mod:`mmgt.pose.yolox`), each box goes through
the top-down model on the RGB frame (:mod:`mmgt.pose.rtmpose`); when no person is found the whole
frame is used as the box (DWPose's fallback). The benchmark has one speaker per video, so the
person with the highest mean body score is kept. Its 133 COCO-WholeBody joints get the neck
inserted (:func:`mmgt.keypoints.insert_neck`); SimCC scores are clipped to [0, 1].

Colour order: YOLOX was trained on ``cv2`` (BGR) images and RTMPose's preprocessor converts to RGB
before normalising, so each model gets the order it was trained on. (The DWPose annotator feeds
one array to both; Moore-AnimateAnyone, which MMGT builds on, feeds BGR to both.)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from mmgt import keypoints as K
from mmgt.pose import rtmpose, yolox
from mmgt.pose.base import PoseExtractor
from mmgt.pose.onnx_session import OnnxSession, open_session

DETECTOR_WEIGHTS = "dwpose-detector"  # yolox_l.onnx in the weights manifest
POSE_WEIGHTS = "dwpose-pose"  # dw-ll_ucoco_384.onnx
COCO_BODY = slice(0, 17)


@dataclass(frozen=True)
class DWPoseConfig:
    """Detector thresholds as in DWPose's ONNX pipeline."""

    det_score: float = 0.3
    det_iou: float = 0.45


class DWPose(PoseExtractor):
    """DWPose on ONNX sessions (any object with onnxruntime's ``get_inputs``/``run``)."""

    name = "dwpose"

    def __init__(self, detector: OnnxSession, pose: OnnxSession, *, files: dict[str, Path] | None = None,
                 config: DWPoseConfig = DWPoseConfig()):
        self.detector, self.pose, self.files, self.config = detector, pose, files or {}, config

    @classmethod
    def from_weights(cls, weights_dir: str | Path | None = None, config: DWPoseConfig = DWPoseConfig()) -> DWPose:
        """Open both models from the weights cache (:mod:`mmgt.weights`).

        A missing file raises ``WeightsMissingError`` naming it, its URL and the fetch command.
        """
        from mmgt.weights import WeightsStore

        store = WeightsStore(weights_dir)
        files = {name: store.resolve(name) for name in (DETECTOR_WEIGHTS, POSE_WEIGHTS)}
        return cls(open_session(files[DETECTOR_WEIGHTS]), open_session(files[POSE_WEIGHTS]), files=files,
                   config=config)

    def person(self, frame: np.ndarray) -> np.ndarray:
        """COCO-WholeBody ``(133, 3)`` keypoints of the most confidently seen person in one RGB frame."""
        boxes, _ = yolox.detect_people(self.detector, frame[..., ::-1], self.config.det_score, self.config.det_iou)
        if len(boxes) == 0:
            boxes = np.array([[0, 0, frame.shape[1], frame.shape[0]]], dtype=np.float32)
        people = [rtmpose.estimate(self.pose, frame, box) for box in boxes]
        best = max(people, key=lambda p: float(p[COCO_BODY, 2].mean()))
        best[:, 2] = np.clip(best[:, 2], 0.0, 1.0)
        return best

    def extract(self, frames: np.ndarray) -> np.ndarray:
        return K.insert_neck(np.stack([self.person(f) for f in frames]))

    def provenance(self) -> dict:
        from mmgt.weights import sha256_file

        return {"extractor": self.name, "settings": asdict(self.config),
                "weights": {name: {"file": p.name, "sha256": sha256_file(p)} for name, p in self.files.items()}}
