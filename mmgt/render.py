"""Pose images in the DWPose / ControlNet-openpose style, from the 134-joint layout.

Drawing follows DWPose's ``draw_pose`` (the condition ControlNet-openpose and AnimateAnyone-style
pose guiders are trained on), on a black canvas, RGB:

- body: each OpenPose limb a filled ellipse in its ControlNet colour, the limb layer dimmed by 0.6,
  then each joint a disc in the joint's colour;
- hands: each of the 20 edges a line coloured ``hsv(edge / 20, 1, 1)``, each joint a blue disc;
- face: each of the 68 landmarks a white disc.

A joint is drawn only when its score exceeds the threshold (and its coordinates are finite); a limb
or hand edge only when both its ends are. Knees, ankles and feet are never drawn. Sizes are
DWPose's at a 512 px frame, scaled with the shorter frame side. Keypoints are pixels of the output
frame (use :func:`mmgt.keypoints.scale_to` for keypoints measured on another size).
"""

from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass

import cv2
import numpy as np

from mmgt import keypoints as K

# ControlNet's 18 body colours: joint j uses colour j, the i-th OpenPose limb colour i.
BODY_COLOURS: tuple[tuple[int, int, int], ...] = (
    (255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0),
    (0, 255, 0), (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255),
    (0, 0, 255), (85, 0, 255), (170, 0, 255), (255, 0, 255), (255, 0, 170), (255, 0, 85),
)
# The full OpenPose limb sequence DWPose draws (0-based), which fixes each limb's colour.
OPENPOSE_LIMBS: tuple[tuple[int, int], ...] = (
    (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10), (1, 11), (11, 12),
    (12, 13), (1, 0), (0, 14), (14, 16), (0, 15), (15, 17),
)
LIMB_COLOURS = tuple(BODY_COLOURS[OPENPOSE_LIMBS.index(limb)] for limb in K.LIMBS)
HAND_EDGE_COLOURS: tuple[tuple[int, int, int], ...] = tuple(
    tuple(round(255 * c) for c in colorsys.hsv_to_rgb(i / len(K.HAND_EDGES), 1.0, 1.0))
    for i in range(len(K.HAND_EDGES))
)
HAND_JOINT_COLOUR = (0, 0, 255)
FACE_COLOUR = (255, 255, 255)
DRAWN_BODY_JOINTS = tuple(j for j in K.BODY if j not in K.LOWER_BODY)


@dataclass(frozen=True)
class RenderConfig:
    """Drawing settings; sizes are in pixels at ``reference_side`` and scale with the frame."""

    threshold: float = K.SCORE_THRESHOLD
    reference_side: int = 512
    limb_width: float = 4.0  # ellipse half-width
    joint_radius: float = 4.0
    hand_width: float = 2.0
    hand_radius: float = 4.0
    face_radius: float = 3.0
    limb_dim: float = 0.6  # DWPose multiplies the limb layer by 0.6 before drawing the joints
    body: bool = True
    hands: bool = True
    face: bool = True

    def scaled(self, value: float, size: tuple[int, int]) -> int:
        """``value`` scaled from ``reference_side`` to the shorter side of ``size``, at least 1 px."""
        return max(1, round(value * min(size) / self.reference_side))


def _points(kp: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Integer pixel coordinates ``(..., 134, 2)`` and drawability ``(..., 134)``."""
    finite = np.isfinite(kp[..., :2]).all(-1)
    ok = K.validity(kp, threshold) & finite
    xy = np.where(finite[..., None], kp[..., :2], 0.0)
    return np.rint(np.clip(xy, -(1 << 15), 1 << 15)).astype(np.int64), ok


def _draw_limbs(canvas: np.ndarray, xy: np.ndarray, ok: np.ndarray, width: int) -> None:
    for (a, b), colour in zip(K.LIMBS, LIMB_COLOURS):
        if not (ok[a] and ok[b]):
            continue
        (x0, y0), (x1, y1) = xy[a], xy[b]
        centre = (int(round((x0 + x1) / 2)), int(round((y0 + y1) / 2)))
        half_length = int(math.hypot(x1 - x0, y1 - y0) / 2)
        angle = int(math.degrees(math.atan2(y0 - y1, x0 - x1)))
        polygon = cv2.ellipse2Poly(centre, (half_length, width), angle, 0, 360, 1)
        cv2.fillConvexPoly(canvas, polygon, colour)


def _draw_discs(canvas: np.ndarray, xy: np.ndarray, ok: np.ndarray, joints, colours, radius: int) -> None:
    for j, colour in zip(joints, colours):
        if ok[j]:
            cv2.circle(canvas, (int(xy[j, 0]), int(xy[j, 1])), radius, colour, thickness=-1)


def _draw_hand(canvas: np.ndarray, xy: np.ndarray, ok: np.ndarray, width: int, radius: int) -> None:
    for (a, b), colour in zip(K.HAND_EDGES, HAND_EDGE_COLOURS):
        if ok[a] and ok[b]:
            cv2.line(canvas, (int(xy[a, 0]), int(xy[a, 1])), (int(xy[b, 0]), int(xy[b, 1])), colour, width)
    _draw_discs(canvas, xy, ok, range(len(xy)), [HAND_JOINT_COLOUR] * len(xy), radius)


def _draw_frame(canvas: np.ndarray, xy: np.ndarray, ok: np.ndarray, config: RenderConfig) -> np.ndarray:
    size = (canvas.shape[1], canvas.shape[0])
    if config.body:
        _draw_limbs(canvas, xy, ok, config.scaled(config.limb_width, size))
        canvas = (canvas * config.limb_dim).astype(np.uint8)
        _draw_discs(canvas, xy, ok, DRAWN_BODY_JOINTS, [BODY_COLOURS[j] for j in DRAWN_BODY_JOINTS],
                    config.scaled(config.joint_radius, size))
    if config.hands:
        for hand in (K.LEFT_HAND, K.RIGHT_HAND):
            _draw_hand(canvas, xy[list(hand)], ok[list(hand)], config.scaled(config.hand_width, size),
                       config.scaled(config.hand_radius, size))
    if config.face:
        _draw_discs(canvas, xy, ok, K.FACE, [FACE_COLOUR] * len(K.FACE), config.scaled(config.face_radius, size))
    return canvas


def render_pose(kp: np.ndarray, size: tuple[int, int], config: RenderConfig = RenderConfig()) -> np.ndarray:
    """One ``(H, W, 3)`` uint8 RGB pose image from ``(134, 3)`` pixel keypoints of a ``(w, h)`` frame."""
    K.check_shape(kp)
    if kp.ndim != 2:
        raise ValueError(f"render_pose takes one frame (134, 3), got {kp.shape}; use render_pose_video")
    return render_pose_video(kp[None], size, config)[0]


def render_pose_video(kp: np.ndarray, size: tuple[int, int], config: RenderConfig = RenderConfig()) -> np.ndarray:
    """``(T, H, W, 3)`` uint8 RGB pose frames from ``(T, 134, 3)`` pixel keypoints of a ``(w, h)`` frame."""
    K.check_shape(kp)
    if kp.ndim != 3:
        raise ValueError(f"render_pose_video takes (T, 134, 3) keypoints, got {kp.shape}")
    width, height = size
    xy, ok = _points(np.asarray(kp, dtype=np.float64), config.threshold)
    video = np.zeros((len(kp), height, width, 3), dtype=np.uint8)
    for t in range(len(kp)):
        if ok[t].any():
            video[t] = _draw_frame(video[t], xy[t], ok[t], config)
    return video
