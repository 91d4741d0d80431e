"""Hallo (Xu et al. 2024) as adapted by the MMGT authors: MMGT's stage-2 module with static region masks.

Same network and code as MMGT stage 2 (:class:`mmgt.methods.mmgt_video.MMGTVideo`), trained with
``placement: all`` (audio attention in the down, mid and up blocks, as Hallo) and ``masks:
reference``; at inference the masks are static for the clip: face and hand boxes from YOLOv5
person-part detections on the reference image when local YOLO weights exist, else the keypoint boxes
of the reference frame (lips always from the keypoints: part detectors have no lips class). Which
source was used is in :meth:`HalloVideo.provenance` (``mask_source``), hence in the results.

YOLO weights: a YOLOv5 person-part model (classes named ``face``/``head``, ``hand``, ``person``/
``body``) at ``$MMGT_WEIGHTS_DIR/yolov5-person-parts.pt`` (:func:`mmgt.weights.default_dir`);
loaded by the ``ultralytics`` package, else ``yolov5``. A loaded detector is any callable
``(H, W, 3) uint8 RGB -> {"face" | "hand" | "body": (n, 4) xyxy pixel boxes}`` (:data:`PartDetector`).
"""

from __future__ import annotations

import importlib.util
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import Callable

import numpy as np

from mmgt.errors import MMGTError
from mmgt.masks import MaskConfig, box_masks, motion_masks
from mmgt.methods.base import Conditions, MethodConfig
from mmgt.methods.mmgt_video import MMGTVideo
from mmgt.stage2.audio_attention import soft_branch_masks
from mmgt.weights import default_dir

PartDetector = Callable[[np.ndarray], dict[str, np.ndarray]]
YOLO_FILE = "yolov5-person-parts.pt"
CLASS_REGIONS = {"face": "face", "head": "face", "hand": "hand", "hands": "hand", "person": "body", "body": "body"}


def _grouped(boxes: np.ndarray, classes: np.ndarray, names: dict[int, str]) -> dict[str, np.ndarray]:
    out: dict[str, list] = {}
    for box, c in zip(boxes, classes):
        region = CLASS_REGIONS.get(str(names[int(c)]).lower())
        if region:
            out.setdefault(region, []).append(box[:4])
    return {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}


def load_yolo(weights: str | Path) -> PartDetector:
    """A YOLOv5 person-part detector from ``weights`` via ``ultralytics`` (else ``yolov5``)."""
    weights = str(weights)
    if importlib.util.find_spec("ultralytics"):
        from ultralytics import YOLO

        model = YOLO(weights)

        def detect(image: np.ndarray) -> dict[str, np.ndarray]:
            r = model(image[..., ::-1], verbose=False)[0]  # ultralytics takes BGR arrays
            return _grouped(r.boxes.xyxy.cpu().numpy(), r.boxes.cls.cpu().numpy(), r.names)
        return detect
    if importlib.util.find_spec("yolov5"):
        import yolov5

        model = yolov5.load(weights)

        def detect(image: np.ndarray) -> dict[str, np.ndarray]:
            pred = model(image).xyxy[0].cpu().numpy()  # (n, 6): x0, y0, x1, y1, score, class; RGB input
            return _grouped(pred[:, :4], pred[:, 5], model.names)
        return detect
    raise MMGTError(f"{weights}: loading YOLO part detections needs the `ultralytics` or `yolov5` package")


def boxes_mask(boxes: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``(1, H, W)`` bool union of ``(n, 4)`` xyxy boxes on a ``(w, h)`` frame (empty when n = 0)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return box_masks(boxes, size).any(0, keepdims=True) if len(boxes) else np.zeros((1, size[1], size[0]), dtype=bool)


def static_masks(ref_pose: np.ndarray, size: tuple[int, int], n_frames: int, detections: dict[str, np.ndarray] | None = None,
                 config: MaskConfig = MaskConfig()) -> np.ndarray:
    """``(T, 3, h, w)`` branch masks (full, face, lip) of the reference frame, the same for every frame.

    ``detections`` (YOLO boxes) replace the keypoint face and hand boxes when given; lips stay keypoint boxes.
    """
    masks = motion_masks(ref_pose[None], size, config)
    if detections is not None:
        hands = boxes_mask(detections.get("hand", np.zeros((0, 4))), size)
        masks = replace(masks, face=boxes_mask(detections.get("face", np.zeros((0, 4))), size), left_hand=hands,
                        right_hand=np.zeros_like(hands))
    return np.repeat(soft_branch_masks(masks, config), n_frames, axis=0)


class HalloVideo(MMGTVideo):
    """``config.checkpoint``: a Hallo-adapted model folder (default ``.../<preset>-hallo/video/model``)."""

    name = "hallo"
    variant = "hallo"
    settings = ("placement=all", "masks=reference", "audio=true")
    description = "Hallo-adapted (MM-HAA in down/mid/up blocks, static region masks of the reference frame)"

    def __init__(self, config: MethodConfig = MethodConfig(), yolo_weights: str | Path | None = None):
        super().__init__(config)
        self.yolo_weights = Path(yolo_weights) if yolo_weights else default_dir() / YOLO_FILE

    @property
    def mask_source(self) -> str:
        return "yolov5" if self.yolo_weights.is_file() else "keypoints"

    @cached_property
    def detector(self) -> PartDetector | None:
        return load_yolo(self.yolo_weights) if self.mask_source == "yolov5" else None

    def masks(self, cond: Conditions, poses: np.ndarray) -> np.ndarray:
        detections = self.detector(cond.ref_image) if self.detector is not None else None
        return static_masks(cond.ref_pose, cond.size, len(poses), detections)

    def provenance(self) -> dict:
        return super().provenance() | {"mask_source": self.mask_source,
                                       "yolo_weights": str(self.yolo_weights) if self.mask_source == "yolov5" else None}
