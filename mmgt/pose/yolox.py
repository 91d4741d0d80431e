"""Person detection with the YOLOX-L ONNX model DWPose ships (``yolox_l.onnx``, COCO classes).

Pre/post-processing of the YOLOX ONNX demo: letterbox to 640x640 (top-left aligned, pad value
114, no normalisation, BGR like the ``cv2`` images it was trained on), grid/stride decoding of the
``(8400, 85)`` output (stride 8, 16, 32), score = objectness x class probability, greedy NMS.
"""

from __future__ import annotations

import cv2
import numpy as np

from mmgt.pose.onnx_session import OnnxSession, run_single

INPUT_SIZE = (640, 640)  # (h, w)
STRIDES = (8, 16, 32)
PAD_VALUE = 114
PERSON = 0  # COCO class index


def letterbox(image: np.ndarray, size: tuple[int, int] = INPUT_SIZE) -> tuple[np.ndarray, float]:
    """Resize keeping the aspect ratio into a padded ``size`` canvas: ``(3, h, w)`` float32 and ratio."""
    ratio = min(size[0] / image.shape[0], size[1] / image.shape[1])
    new_w, new_h = int(image.shape[1] * ratio), int(image.shape[0] * ratio)
    canvas = np.full((size[0], size[1], 3), PAD_VALUE, dtype=np.uint8)
    canvas[:new_h, :new_w] = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(canvas.transpose(2, 0, 1), dtype=np.float32), ratio


def grid_decode(raw: np.ndarray, size: tuple[int, int] = INPUT_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Raw ``(A, 5 + C)`` predictions -> ``(A, 4)`` xyxy boxes in input pixels and ``(A, C)`` scores.

    Anchor ``a`` of stride ``s`` at grid cell ``(gx, gy)``: centre = (offset + cell) * s,
    size = exp(log-size) * s; anchors are ordered stride by stride, row-major within a stride.
    """
    grids, strides = [], []
    for stride in STRIDES:
        h, w = size[0] // stride, size[1] // stride
        xv, yv = np.meshgrid(np.arange(w), np.arange(h))
        grids.append(np.stack((xv, yv), axis=-1).reshape(-1, 2))
        strides.append(np.full((h * w, 1), stride))
    grid, stride = np.concatenate(grids), np.concatenate(strides)
    if raw.shape[0] != grid.shape[0]:
        raise ValueError(f"YOLOX output has {raw.shape[0]} anchors, expected {grid.shape[0]} for {size}")
    centre = (raw[:, :2] + grid) * stride
    half = np.exp(raw[:, 2:4]) * stride / 2.0
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    return boxes, raw[:, 4:5] * raw[:, 5:]


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> list[int]:
    """Greedy non-maximum suppression: indices kept, highest score first."""
    x1, y1, x2, y2 = boxes.T
    areas = np.maximum(x2 - x1, 0) * np.maximum(y2 - y1, 0)
    order = list(np.argsort(-scores, kind="stable"))
    keep = []
    while order:
        i, rest = order[0], np.array(order[1:], dtype=int)
        keep.append(int(i))
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
        inter = w * h
        iou = inter / np.maximum(areas[i] + areas[rest] - inter, 1e-9)
        order = list(rest[iou <= iou_threshold])
    return keep


def detect_people(
    session: OnnxSession, image_bgr: np.ndarray, score_threshold: float = 0.3, iou_threshold: float = 0.45
) -> tuple[np.ndarray, np.ndarray]:
    """Person boxes ``(M, 4)`` xyxy in image pixels with their scores ``(M,)``, best first."""
    batch, ratio = letterbox(image_bgr)
    raw = run_single(session, batch[None])[0][0]
    boxes, scores = grid_decode(raw)
    person = scores[:, PERSON]  # class-aware NMS: other classes' scores play no part
    chosen = person > score_threshold
    boxes, person = boxes[chosen] / ratio, person[chosen]
    keep = nms(boxes, person, iou_threshold)
    return boxes[keep], person[keep]
