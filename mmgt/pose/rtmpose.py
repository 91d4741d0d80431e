"""Top-down whole-body pose with DWPose's RTMPose-l model (``dw-ll_ucoco_384.onnx``, SimCC head).

Per person box: centre and size with 1.25 padding, size widened to the 288:384 input aspect,
affine crop (no rotation) to 288x384, normalised with the ImageNet mean/std in 0-255 units (listed in
RGB order; DWPose's ONNX pipeline and MMGT's release apply them to the BGR image they are given),
then the two SimCC outputs (``(133, 576)`` along x, ``(133, 768)`` along y; split ratio 2) are
decoded by argmax and mapped back through the inverse of the crop.
"""

from __future__ import annotations

import cv2
import numpy as np

from mmgt.pose.onnx_session import OnnxSession, run_single

INPUT_SIZE = (288, 384)  # (w, h)
MEAN = np.array([123.675, 116.28, 103.53], dtype=np.float32)  # ImageNet RGB order, applied to the channels given
STD = np.array([58.395, 57.12, 57.375], dtype=np.float32)
SPLIT_RATIO = 2.0
BOX_PADDING = 1.25


def box_to_center_scale(box: np.ndarray, padding: float = BOX_PADDING) -> tuple[np.ndarray, np.ndarray]:
    """xyxy box -> centre ``(2,)`` and padded size ``(2,)``."""
    x1, y1, x2, y2 = np.asarray(box, dtype=np.float32)[:4]
    return np.array([(x1 + x2) / 2, (y1 + y2) / 2], np.float32), np.array([x2 - x1, y2 - y1], np.float32) * padding


def fix_aspect(scale: np.ndarray, aspect: float) -> np.ndarray:
    """Grow the shorter side of a ``(w, h)`` size so that ``w / h == aspect``."""
    w, h = scale
    return np.array([w, w / aspect] if w > h * aspect else [h * aspect, h], dtype=np.float32)


def crop_matrix(center: np.ndarray, scale: np.ndarray, size: tuple[int, int] = INPUT_SIZE) -> np.ndarray:
    """2x3 affine taking the ``scale``-sized box around ``center`` onto a ``size`` image.

    ``scale`` must already have the aspect of ``size`` (see :func:`fix_aspect`); with no rotation
    the map is a uniform scaling about the centre, as mmpose's ``get_warp_matrix`` builds it.
    """
    s = size[0] / scale[0]
    return np.array([[s, 0.0, size[0] / 2 - s * center[0]], [0.0, s, size[1] / 2 - s * center[1]]], np.float32)


def to_image(points: np.ndarray, center: np.ndarray, scale: np.ndarray, size: tuple[int, int] = INPUT_SIZE) -> np.ndarray:
    """Model-input pixel coordinates ``(..., 2)`` back to image pixels (inverse of the crop)."""
    return points / np.asarray(size, np.float32) * scale + center - scale / 2


def simcc_decode(simcc_x: np.ndarray, simcc_y: np.ndarray, split_ratio: float = SPLIT_RATIO) -> tuple[np.ndarray, np.ndarray]:
    """SimCC ``(K, Wx)``, ``(K, Wy)`` -> input-pixel locations ``(K, 2)`` and scores ``(K,)``.

    Location = argmax bin / split ratio on each axis; score = the smaller of the two maxima.
    Joints with a non-positive score get location -1 (mmpose's convention).
    """
    locs = np.stack([simcc_x.argmax(-1), simcc_y.argmax(-1)], axis=-1).astype(np.float32) / split_ratio
    scores = np.minimum(simcc_x.max(-1), simcc_y.max(-1)).astype(np.float32)
    locs[scores <= 0] = -1.0
    return locs, scores


def preprocess(image: np.ndarray, box: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Crop and normalise one person of ``image`` (channels as given): ``(3, 384, 288)`` input, centre and
    aspect-fixed scale."""
    center, scale = box_to_center_scale(box)
    scale = fix_aspect(scale, INPUT_SIZE[0] / INPUT_SIZE[1])
    crop = cv2.warpAffine(image, crop_matrix(center, scale), INPUT_SIZE, flags=cv2.INTER_LINEAR)
    normalised = (crop.astype(np.float32) - MEAN) / STD
    return np.ascontiguousarray(normalised.transpose(2, 0, 1)), center, scale


def estimate(session: OnnxSession, image: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Whole-body keypoints ``(133, 3)`` (x, y in image pixels, SimCC score) of the person in ``box``."""
    batch, center, scale = preprocess(image, box)
    simcc_x, simcc_y = run_single(session, batch[None])[:2]
    locs, scores = simcc_decode(simcc_x[0], simcc_y[0])
    return np.concatenate([to_image(locs, center, scale), scores[:, None]], axis=1)
