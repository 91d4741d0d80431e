"""DWPose (the project's ONNX loaders, :mod:`mmgt.pose.dwpose`) as an eval extractor, for HKC/HKV.

Its weights are the two manifest entries ``dwpose-detector`` and ``dwpose-pose``; ``weights`` is one
sha256 over both files' hashes. There is no random init: without the files, ``hkc`` cannot run
(``hkc_mp`` is the offline variant).
"""

from __future__ import annotations

import hashlib
from typing import Self

import numpy as np

from mmgt.pose.dwpose import DETECTOR_WEIGHTS, POSE_WEIGHTS, DWPose
from mmgt.weights import WeightsStore


class DWPoseExtractor:
    name = "dwpose"
    weights_name = POSE_WEIGHTS  # the whole-body model; the detector (DETECTOR_WEIGHTS) is checked with it
    untrained = False
    preprocessing = "protocol-size RGB frames; YOLOX on BGR, RTMPose on RGB (mmgt.pose.dwpose), best person"
    layout = "(134, 3) pixels and SimCC score"

    def __init__(self, model: DWPose, hashes: dict[str, str]):
        self.model, self.hashes = model, hashes
        self.weights = hashlib.sha256("".join(f"{n}:{h}\n" for n, h in sorted(hashes.items())).encode()).hexdigest()
        self.source = ", ".join(str(p) for p in model.files.values())

    @classmethod
    def load(cls, store: WeightsStore | None = None, **_: object) -> Self:
        """Both ONNX models from the weights cache; a missing file raises ``WeightsMissingError`` naming it."""
        store = store or WeightsStore()
        hashes = {name: store.sha256(name) for name in (DETECTOR_WEIGHTS, POSE_WEIGHTS)}
        return cls(DWPose.from_weights(store.root), hashes)

    def provenance(self) -> dict:
        return {"extractor": self.name, "weights": self.weights, "untrained": False, "source": self.source,
                "preprocessing": self.preprocessing, "layout": self.layout, "model_files": dict(self.hashes)}

    def keypoints(self, frames: np.ndarray) -> np.ndarray:
        """``(T, H, W, 3)`` uint8 RGB -> ``(T, 134, 3)`` keypoints."""
        return self.model(frames)
