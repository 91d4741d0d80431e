"""The 134-joint DWPose whole-body layout (COCO-WholeBody + inserted neck, OpenPose-18 body order).

Arrays are ``(..., 134, 3)`` with ``(x, y, score)`` in pixels of the frame they were measured on.
Models work in a normalised space where only x and y are rescaled; the score channel is kept as is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NUM_JOINTS = 134
NUM_VALUES = NUM_JOINTS * 3  # 402, the per-frame vector of stage 1
SCORE_THRESHOLD = 0.3

BODY = tuple(range(0, 18))
FEET = tuple(range(18, 24))
FACE = tuple(range(24, 92))
JAW = tuple(range(24, 41))
BROWS = tuple(range(41, 51))
NOSE = tuple(range(51, 60))
EYES = tuple(range(60, 72))
LIPS = tuple(range(72, 92))
LEFT_HAND = tuple(range(92, 113))
RIGHT_HAND = tuple(range(113, 134))
HANDS = LEFT_HAND + RIGHT_HAND
LOWER_BODY = (9, 10, 12, 13)  # knees and ankles: invisible in upper-body video
UPPER_BODY = tuple(j for j in BODY if j not in LOWER_BODY)
NOT_FACE = tuple(j for j in range(NUM_JOINTS) if j not in FACE)

BODY_NAMES = (
    "nose", "neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist",
    "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "r_eye", "l_eye", "r_ear", "l_ear",
)

REGIONS: dict[str, tuple[int, ...]] = {
    "body": BODY,
    "upper_body": UPPER_BODY,
    "feet": FEET,
    "face": FACE,
    "lips": LIPS,
    "eyes": EYES,
    "left_hand": LEFT_HAND,
    "right_hand": RIGHT_HAND,
    "hands": HANDS,
}

# OpenPose-18 limbs (pairs of body joints) as drawn by DWPose/ControlNet, lower limbs excluded.
LIMBS: tuple[tuple[int, int], ...] = (
    (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (1, 11),
    (1, 0), (0, 14), (14, 16), (0, 15), (15, 17),
)
# Hand skeleton: 21 points, wrist 0, then 4 joints per finger (thumb .. little).
HAND_EDGES: tuple[tuple[int, int], ...] = tuple(
    (0 if k == 0 else 4 * f + k, 4 * f + k + 1) for f in range(5) for k in range(4)
)


def region(name: str) -> tuple[int, ...]:
    """Joint indices of a named region; raises ``KeyError`` listing valid names."""
    try:
        return REGIONS[name]
    except KeyError:
        raise KeyError(f"unknown keypoint region {name!r}; choose from {sorted(REGIONS)}") from None


def validity(kp: np.ndarray, threshold: float = SCORE_THRESHOLD) -> np.ndarray:
    """Boolean ``(..., 134)``: joints whose score exceeds ``threshold``."""
    return kp[..., 2] > threshold


def check_shape(kp: np.ndarray) -> None:
    """Raise ``ValueError`` unless ``kp`` is ``(..., 134, 3)``."""
    if kp.ndim < 2 or kp.shape[-2:] != (NUM_JOINTS, 3):
        raise ValueError(f"keypoints must have shape (..., {NUM_JOINTS}, 3), got {tuple(kp.shape)}")


@dataclass(frozen=True)
class Normalizer:
    """Maps pixel x, y of a ``width`` x ``height`` frame to [-1, 1] and back; scores untouched.

    Invalid joints (score <= threshold) are written as 0 in model space so that they carry no
    spurious coordinates; they come back as (0, 0) pixels with their original score.
    """

    width: int
    height: int
    threshold: float = SCORE_THRESHOLD

    def to_model(self, kp: np.ndarray) -> np.ndarray:
        check_shape(kp)
        out = np.array(kp, dtype=np.float32, copy=True)
        out[..., 0] = kp[..., 0] / self.width * 2.0 - 1.0
        out[..., 1] = kp[..., 1] / self.height * 2.0 - 1.0
        out[..., :2] *= validity(kp, self.threshold)[..., None]
        return out

    def to_pixels(self, kp: np.ndarray) -> np.ndarray:
        check_shape(kp)
        out = np.array(kp, dtype=np.float32, copy=True)
        out[..., 0] = (kp[..., 0] + 1.0) / 2.0 * self.width
        out[..., 1] = (kp[..., 1] + 1.0) / 2.0 * self.height
        return out


def scale_to(kp: np.ndarray, src_size: tuple[int, int], dst_size: tuple[int, int]) -> np.ndarray:
    """Rescale pixel keypoints from a ``(w, h)`` frame to another ``(w, h)``; scores unchanged."""
    out = np.array(kp, dtype=np.float32, copy=True)
    out[..., 0] *= dst_size[0] / src_size[0]
    out[..., 1] *= dst_size[1] / src_size[1]
    return out


def insert_neck(coco133: np.ndarray) -> np.ndarray:
    """COCO-WholeBody 133 joints -> the 134 layout (neck inserted, body reordered to OpenPose-18).

    The neck is the mean of the shoulders, scored by the lower shoulder score when both exceed the
    threshold and 0 otherwise.
    """
    if coco133.shape[-2:] != (133, 3):
        raise ValueError(f"expected (..., 133, 3) COCO-WholeBody keypoints, got {coco133.shape}")
    # COCO body order: 0 nose 1 l_eye 2 r_eye 3 l_ear 4 r_ear 5 l_sh 6 r_sh 7 l_el 8 r_el
    # 9 l_wr 10 r_wr 11 l_hip 12 r_hip 13 l_knee 14 r_knee 15 l_ank 16 r_ank
    coco_to_openpose = [0, -1, 6, 8, 10, 5, 7, 9, 12, 14, 16, 11, 13, 15, 2, 1, 4, 3]
    out = np.zeros(coco133.shape[:-2] + (NUM_JOINTS, 3), dtype=np.float32)
    for dst, src in enumerate(coco_to_openpose):
        if src >= 0:
            out[..., dst, :] = coco133[..., src, :]
    shoulders = coco133[..., [5, 6], :]
    ok = (shoulders[..., 2] > SCORE_THRESHOLD).all(-1)
    out[..., 1, :2] = shoulders[..., :2].mean(-2)
    out[..., 1, 2] = np.where(ok, shoulders[..., 2].min(-1), 0.0)
    out[..., 18:, :] = coco133[..., 17:, :]
    return out
