"""Render the synthetic speaker from its keypoints alone (anti-aliased OpenCV shapes).

Every shape is placed by the keypoints (the head by the jaw and eye landmarks, the mouth by the lip
landmarks, the fingers by the hand joints), so the keypoints are exact ground truth of the frames.
"""

from __future__ import annotations

import cv2
import numpy as np

from mmgt import keypoints as K
from mmgt.data.synth.speakers import RGB, Look

_SHIFT = 4  # sub-pixel precision bits for OpenCV drawing
_ONE = 1 << _SHIFT
_AA = cv2.LINE_AA
_INNER_MOUTH = (60, 22, 28)


def _fixed(points: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(points) * _ONE).astype(np.int32)


def _shade(colour: RGB, factor: float) -> RGB:
    return tuple(int(min(255, c * factor)) for c in colour)  # type: ignore[return-value]


def _poly(img: np.ndarray, points: np.ndarray, colour: RGB) -> None:
    cv2.fillPoly(img, [_fixed(points)], colour, _AA, _SHIFT)


def _line(img: np.ndarray, points: np.ndarray, colour: RGB, thickness: float) -> None:
    cv2.polylines(img, [_fixed(points)], False, colour, max(1, int(round(thickness))), _AA, _SHIFT)


def _limb(img: np.ndarray, points: np.ndarray, colour: RGB, thickness: float) -> None:
    """A thick chain with a darker outline."""
    _line(img, points, _shade(colour, 0.7), thickness + 2)
    _line(img, points, colour, thickness)


def _ellipse(img: np.ndarray, center: np.ndarray, axes: tuple[float, float], angle: float, colour: RGB) -> None:
    cv2.ellipse(img, tuple(_fixed(center)), (int(axes[0] * _ONE), int(axes[1] * _ONE)), angle, 0, 360,
                colour, -1, _AA, _SHIFT)


def _arc(center: np.ndarray, axes: tuple[float, float], angle: float, start: float, stop: float) -> np.ndarray:
    """Points of an elliptical arc (degrees, OpenCV convention) as float pixels."""
    t = np.deg2rad(np.linspace(start, stop, 24))
    c, s = np.cos(np.deg2rad(angle)), np.sin(np.deg2rad(angle))
    x, y = axes[0] * np.cos(t), axes[1] * np.sin(t)
    return center + np.stack([c * x - s * y, s * x + c * y], axis=1)


class _Head:
    """The head frame recovered from the face landmarks: skull centre, size and roll."""

    def __init__(self, face: np.ndarray):
        left, right = face[0], face[16]
        eye_axis = face[42:48].mean(0) - face[36:42].mean(0)
        self.angle = float(np.degrees(np.arctan2(eye_axis[1], eye_axis[0])))
        self.width = float(np.linalg.norm(right - left))
        self.center = (left + right) / 2.0
        self.half = self.width / 2.0
        self.top = 0.62 * self.width


def _draw_hair_back(img: np.ndarray, head: _Head, look: Look) -> None:
    _ellipse(img, head.center, (1.12 * head.half, 1.1 * head.top), head.angle, look.hair)
    if look.hair_style == "bun":
        up = np.array([np.sin(np.deg2rad(head.angle)), -np.cos(np.deg2rad(head.angle))])
        _ellipse(img, head.center + up * 1.15 * head.top, (0.45 * head.half, 0.35 * head.top), head.angle, look.hair)


def _draw_long_hair(img: np.ndarray, head: _Head, neck: np.ndarray, look: Look) -> None:
    if look.hair_style != "long":
        return
    left, right = head.center[0] - 1.15 * head.half, head.center[0] + 1.15 * head.half
    bottom = neck[1] + 0.45 * head.width
    _poly(img, np.array([[left, head.center[1]], [right, head.center[1]], [right + 4, bottom], [left - 4, bottom]]), look.hair)


def _draw_torso(img: np.ndarray, kp: np.ndarray, look: Look, scale: float) -> None:
    neck, rs, ls, rh, lh = kp[1, :2], kp[2, :2], kp[5, :2], kp[8, :2], kp[11, :2]
    s = scale
    down = np.array([0.0, img.shape[0] + 10.0])
    outline = np.array([
        rs + [-11 * s, 9 * s], rs + [-3 * s, -8 * s], neck + [-9 * s, -7 * s], neck + [0, 12 * s],
        neck + [9 * s, -7 * s], ls + [3 * s, -8 * s], ls + [11 * s, 9 * s], lh + [8 * s, 0], lh * [1, 0] + down,
        rh * [1, 0] + down, rh + [-8 * s, 0],
    ])
    _poly(img, outline, look.shirt)


def _draw_neck(img: np.ndarray, kp: np.ndarray, head: _Head, look: Look) -> None:
    chin = (kp[24 + 5, :2] + kp[24 + 11, :2]) / 2.0
    _line(img, np.array([kp[1, :2] + [0, 8], chin]), _shade(look.skin, 0.85), 0.42 * head.width)


def _draw_arm(img: np.ndarray, kp: np.ndarray, joints: tuple[int, int, int], look: Look, scale: float) -> None:
    shoulder, elbow, wrist = (kp[j, :2] for j in joints)
    sleeve = _shade(look.shirt, 0.88)
    if look.long_sleeves:
        _limb(img, np.array([shoulder, elbow]), sleeve, 19 * scale)
        _limb(img, np.array([elbow, wrist]), sleeve, 15 * scale)
    else:
        _limb(img, np.array([shoulder, elbow, wrist]), look.skin, 13 * scale)
        _limb(img, np.array([shoulder, shoulder + 0.55 * (elbow - shoulder)]), sleeve, 20 * scale)


def _draw_hand(img: np.ndarray, hand: np.ndarray, look: Look) -> None:
    palm = float(np.linalg.norm(hand[9] - hand[0]))
    finger = max(0.24 * palm, 1.5)
    outline = _shade(look.skin, 0.72)
    cv2.polylines(img, [_fixed(hand[[0, 1, 5, 9, 13, 17]])], True, outline, 2, _AA, _SHIFT)
    _poly(img, hand[[0, 1, 5, 9, 13, 17]], look.skin)
    chains = [hand[1 + 4 * f : 5 + 4 * f] for f in range(5)]  # thumb .. little, knuckle to tip
    for chain in chains:
        _line(img, chain, outline, finger + 1.5)
    for chain in chains:
        _line(img, chain, look.skin, finger)


def _draw_face(img: np.ndarray, face: np.ndarray, head: _Head, look: Look) -> None:
    w = head.width
    for ear in (face[0], face[16]):
        _ellipse(img, ear + (ear - head.center) * 0.08 + [0, 0.05 * w], (0.07 * w, 0.12 * w), head.angle, _shade(look.skin, 0.88))
    forehead = _arc(head.center, (head.half, head.top), head.angle, 360, 180)
    _poly(img, np.concatenate([face[0:17], forehead]), look.skin)
    if look.hair_style != "bald":
        cap = _arc(head.center, (1.06 * head.half, 1.06 * head.top), head.angle, 172, 368)
        hairline = _arc(head.center, (1.02 * head.half, 0.34 * w), head.angle, 368, 172)
        _poly(img, np.concatenate([cap, hairline]), look.hair)
    brow = _shade(look.hair, 0.8)
    _line(img, face[17:22], brow, 0.045 * w)
    _line(img, face[22:27], brow, 0.045 * w)
    for eye in (face[36:42], face[42:48]):
        _poly(img, eye, (245, 245, 240))
        opening = float(np.mean(eye[[5, 4], 1] - eye[[1, 2], 1]))
        if opening > 0.02 * w:
            radius = min(0.05 * w, 0.6 * opening)
            cv2.circle(img, tuple(_fixed(eye.mean(0))), int(radius * _ONE), look.iris, -1, _AA, _SHIFT)
        _line(img, eye[[0, 1, 2, 3]], (40, 30, 30), 0.025 * w)
    nose = _shade(look.skin, 0.75)
    _line(img, face[27:31], nose, 0.03 * w)
    _line(img, face[31:36], nose, 0.03 * w)
    _poly(img, face[48:60], look.lips)
    _poly(img, face[60:68], _INNER_MOUTH)
    _line(img, face[[60, 61, 62, 63, 64]], _shade(look.lips, 0.6), 0.02 * w)


def render_frame(kp: np.ndarray, look: Look, backdrop: np.ndarray, scale: float) -> np.ndarray:
    """One ``(h, w, 3)`` RGB frame from ``(134, 3)`` pixel keypoints."""
    img = backdrop.copy()
    face = kp[24:92, :2]
    head = _Head(face)
    _draw_hair_back(img, head, look)
    _draw_long_hair(img, head, kp[1, :2], look)
    _draw_neck(img, kp, head, look)
    _draw_torso(img, kp, look, scale)
    _draw_face(img, face, head, look)
    for arm, hand in (((2, 3, 4), K.RIGHT_HAND), ((5, 6, 7), K.LEFT_HAND)):
        _draw_arm(img, kp, arm, look, scale)
        _draw_hand(img, kp[hand[0] : hand[-1] + 1, :2], look)
    return img


def render(kp: np.ndarray, look: Look, backdrop: np.ndarray, scale: float) -> np.ndarray:
    """``(T, h, w, 3)`` uint8 RGB frames from ``(T, 134, 3)`` pixel keypoints."""
    return np.stack([render_frame(frame, look, backdrop, scale) for frame in kp])
