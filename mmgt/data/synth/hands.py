"""The 21 hand joints (wrist, then 4 per finger from the thumb) posed by direction and finger curl.

Hand-local units: the palm (wrist to middle knuckle) is 1 long, x along the hand, y towards the thumb.
Curling a finger bends it towards the palm, seen from the palm side: the finger foreshortens and
its tip folds back over the palm.
"""

from __future__ import annotations

import numpy as np

# knuckle positions of index, middle, ring, little fingers and their splay angles (radians)
_KNUCKLES = np.array([[0.97, 0.34], [1.0, 0.1], [0.96, -0.13], [0.86, -0.33]])
_SPLAY = np.array([0.2, 0.03, -0.14, -0.3])
_SEGMENTS = np.array([[0.45, 0.28, 0.22], [0.5, 0.32, 0.24], [0.47, 0.3, 0.22], [0.37, 0.23, 0.2]])
_JOINT_BEND = np.array([1.1, 1.4, 0.9])  # radians per unit curl at each finger joint
_THUMB = np.array([[0.22, 0.3], [0.45, 0.56], [0.66, 0.72], [0.84, 0.84]])
_THUMB_FOLD = np.array([0.55, 0.3])  # where the curled thumb tip rests on the palm


def hand_points(wrist: np.ndarray, direction: np.ndarray, palm: float, curl: np.ndarray, thumb_side: float) -> np.ndarray:
    """``(T, 21, 2)`` pixel joints.

    ``wrist`` ``(T, 2)`` pixels; ``direction`` ``(T,)`` angle of the hand axis in image coordinates;
    ``palm`` the palm length in pixels; ``curl`` ``(T, 5)`` in [0, 1] for thumb .. little;
    ``thumb_side`` +1 or -1 chooses which side of the hand axis the thumb lies on (mirrors the hand).
    """
    n = len(wrist)
    local = np.zeros((n, 21, 2))
    fold = curl[:, :1, None]
    local[:, 1:5] = _THUMB + fold * (np.linspace(0.1, 1.0, 4)[:, None] * (_THUMB_FOLD - _THUMB))
    for f in range(4):
        c = curl[:, f + 1]
        bend = np.cumsum(c[:, None] * _JOINT_BEND, axis=1)  # (T, 3) accumulated bend
        along = np.cumsum(_SEGMENTS[f] * np.cos(bend), axis=1)
        across = np.cumsum(_SEGMENTS[f] * np.sin(0.25 * bend), axis=1)  # curled fingers lean to the thumb
        base = 5 + 4 * f
        local[:, base] = _KNUCKLES[f]
        ca, sa = np.cos(_SPLAY[f]), np.sin(_SPLAY[f])
        local[:, base + 1 : base + 4, 0] = _KNUCKLES[f, 0] + ca * along - sa * across
        local[:, base + 1 : base + 4, 1] = _KNUCKLES[f, 1] + sa * along + ca * across
    local[..., 1] *= thumb_side
    c, s = np.cos(direction)[:, None], np.sin(direction)[:, None]
    x, y = local[..., 0], local[..., 1]
    return wrist[:, None, :] + palm * np.stack([c * x - s * y, s * x + c * y], axis=-1)
