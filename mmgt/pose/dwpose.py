"""DWPose (YOLOX-L person detector + RTMPose-l whole-body, ONNX through onnxruntime), preprocessed as MMGT's release.

Per frame, as MMGT's ``src/dwpose`` ``DWposeDetector.__call__``: the RGB frame is converted to BGR and
resized so that its shorter side is 512, each side rounded to a multiple of 64 (controlnet_aux's
``resize_image``: Lanczos when enlarging, area when shrinking); people are detected on that BGR image
(:mod:`mmgt.pose.yolox`) and each box goes through the top-down model on the same BGR image
(:mod:`mmgt.pose.rtmpose`; the release normalises BGR with the RGB-ordered ImageNet mean/std, as DWPose's
ONNX pipeline does). When no person is found the whole image is the box (DWPose's fallback). The
benchmark has one speaker per video, so the person with the highest mean body score is kept. Its 133
COCO-WholeBody joints are mapped back to the frame's pixels and get the neck inserted
(:func:`mmgt.keypoints.insert_neck`); SimCC scores are clipped to [0, 1].
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
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
    """Detector thresholds as in DWPose's ONNX pipeline; the input size as MMGT's release."""

    det_score: float = 0.3
    det_iou: float = 0.45
    detect_resolution: int | None = 512  # shorter side before both models (None: the frame's own size)


def release_resize(image: np.ndarray, resolution: int) -> np.ndarray:
    """controlnet_aux ``resize_image``: shorter side to ``resolution``, each side rounded to a multiple of 64,
    ``INTER_LANCZOS4`` when enlarging, ``INTER_AREA`` otherwise."""
    h, w = image.shape[:2]
    k = resolution / min(h, w)
    size = (int(np.round(w * k / 64.0)) * 64, int(np.round(h * k / 64.0)) * 64)
    return cv2.resize(image, size, interpolation=cv2.INTER_LANCZOS4 if k > 1 else cv2.INTER_AREA)


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
        """COCO-WholeBody ``(133, 3)`` keypoints (frame pixels) of the most confidently seen person in one RGB frame."""
        image = np.ascontiguousarray(frame[..., ::-1])  # BGR for both models, as the release
        if self.config.detect_resolution is not None:
            image = release_resize(image, self.config.detect_resolution)
        boxes, _ = yolox.detect_people(self.detector, image, self.config.det_score, self.config.det_iou)
        if len(boxes) == 0:
            boxes = np.array([[0, 0, image.shape[1], image.shape[0]]], dtype=np.float32)
        people = [rtmpose.estimate(self.pose, image, box) for box in boxes]
        best = max(people, key=lambda p: float(p[COCO_BODY, 2].mean()))
        best[:, :2] *= np.array([frame.shape[1] / image.shape[1], frame.shape[0] / image.shape[0]], np.float32)
        best[:, 2] = np.clip(best[:, 2], 0.0, 1.0)
        return best

    def extract(self, frames: np.ndarray) -> np.ndarray:
        return K.insert_neck(np.stack([self.person(f) for f in frames]))

    def provenance(self) -> dict:
        from mmgt.weights import sha256_file

        return {"extractor": self.name, "settings": asdict(self.config),
                "weights": {name: {"file": p.name, "sha256": sha256_file(p)} for name, p in self.files.items()}}
