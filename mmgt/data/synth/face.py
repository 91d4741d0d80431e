"""The 68 iBUG face landmarks of the synthetic head: a template posed by yaw, nod and roll.

Template units: the jaw is 1 wide, x to the image right, y down, origin between the eyes.
Point order follows iBUG: jaw 0-16 (from the image-left temple), brows 17-26, nose 27-35,
eyes 36-47 (image-left eye first), outer lips 48-59, inner lips 60-67.
"""

from __future__ import annotations

import numpy as np

_t = np.linspace(0.0, np.pi, 17)
_JAW = np.stack([-0.5 * np.cos(_t), -0.04 + 0.6 * np.sin(_t) ** 0.9], axis=1)
_BROW = np.array([[-0.38, -0.17], [-0.31, -0.22], [-0.23, -0.24], [-0.15, -0.23], [-0.08, -0.2]])
_NOSE = np.array([[0, -0.06], [0, 0.03], [0, 0.12], [0, 0.21], [-0.1, 0.25], [-0.05, 0.27], [0, 0.28], [0.05, 0.27], [0.1, 0.25]])
_EYE = np.array([[-0.3, -0.05], [-0.24, -0.085], [-0.16, -0.085], [-0.1, -0.05], [-0.16, -0.025], [-0.24, -0.025]])
_OUTER = np.array([
    [-0.17, 0.4], [-0.1, 0.365], [-0.04, 0.35], [0, 0.355], [0.04, 0.35], [0.1, 0.365],
    [0.17, 0.4], [0.1, 0.445], [0.04, 0.46], [0, 0.465], [-0.04, 0.46], [-0.1, 0.445],
])
_INNER = np.array([[-0.13, 0.4], [-0.04, 0.396], [0, 0.397], [0.04, 0.396], [0.13, 0.4], [0.04, 0.404], [0, 0.403], [-0.04, 0.404]])


def _mirror(points: np.ndarray, order: list[int]) -> np.ndarray:
    return points[order] * np.array([-1.0, 1.0])


TEMPLATE = np.concatenate([
    _JAW, _BROW, _mirror(_BROW, [4, 3, 2, 1, 0]), _NOSE, _EYE, _mirror(_EYE, [3, 2, 1, 0, 5, 4]), _OUTER, _INNER,
])
# depth towards the camera, for yaw and nod: a rounded face with a protruding nose
DEPTH = 0.3 * np.sqrt(np.clip(1.0 - (2.0 * TEMPLATE[:, 0]) ** 2, 0.0, 1.0))
DEPTH[30:36] += 0.12
DEPTH[27:30] += np.array([0.02, 0.05, 0.09])

UPPER_LID = np.array([37, 38, 43, 44])
LOWER_LID = np.array([41, 40, 47, 46])
_LOWER_LIP = np.array([55, 56, 57, 58, 59, 65, 66, 67])
_LIP_DROP = np.zeros(68)
_LIP_DROP[_LOWER_LIP] = [0.7, 0.95, 1.0, 0.95, 0.7, 0.95, 1.0, 0.95]
_LIP_DROP[[48, 54, 60, 64]] = 0.35
_LIP_DROP[[61, 62, 63]] = -0.08
_LIP_DROP[0:17] = 0.5 * np.sin(_t) ** 3  # the chin follows the jaw
OPEN_DROP = 0.22  # lower-lip drop at full opening, in face widths
OPEN_NARROW = 0.12  # mouth corners move in by this fraction when fully open


def face_landmarks(
    center: np.ndarray,
    width: float,
    yaw: np.ndarray,
    nod: np.ndarray,
    roll: np.ndarray,
    mouth: np.ndarray,
    blink: np.ndarray,
) -> np.ndarray:
    """``(T, 68, 2)`` pixel landmarks; ``center`` ``(T, 2)`` is the template origin, angles in radians.

    ``mouth`` in [0, 1] opens the jaw and lips; ``blink`` in [0, 1] closes the eyelids.
    """
    pts = np.broadcast_to(TEMPLATE, (len(center), 68, 2)).copy()
    pts[..., 1] += OPEN_DROP * mouth[:, None] * _LIP_DROP
    mouth_pts = slice(48, 68)
    pts[:, mouth_pts, 0] *= 1.0 - OPEN_NARROW * mouth[:, None]
    lid = pts[:, UPPER_LID, 1]
    pts[:, UPPER_LID, 1] = lid + 0.9 * blink[:, None] * (pts[:, LOWER_LID, 1] - lid)
    x, y, z = pts[..., 0], pts[..., 1], np.broadcast_to(DEPTH, pts.shape[:2])
    x = x * np.cos(yaw)[:, None] + z * np.sin(yaw)[:, None]
    y = y * np.cos(nod)[:, None] + z * np.sin(nod)[:, None]
    c, s = np.cos(roll)[:, None], np.sin(roll)[:, None]
    rotated = np.stack([c * x - s * y, s * x + c * y], axis=-1)
    return center[:, None, :] + width * rotated


def inner_lip_opening(face: np.ndarray) -> np.ndarray:
    """Mean vertical gap between the inner upper (61-63) and inner lower (65-67) lip points."""
    return np.mean(face[..., [67, 66, 65], 1] - face[..., [61, 62, 63], 1], axis=-1)
