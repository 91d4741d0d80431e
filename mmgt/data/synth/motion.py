"""Keypoint trajectories of a synthetic speaker, driven by the speech signals.

The syllable envelope opens the mouth; stressed syllables trigger head nods and arm strokes (the
wrist reaches for a new target, holds it, relaxes) with a new hand shape; speaking energy lifts the
hands into gesture space. Everything is smoothed by critically damped springs, and filtered noise
adds idle sway. Coordinates are pixels of a 256 x 256 frame (the canonical canvas).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from mmgt import keypoints as K
from mmgt.data.synth.dynamics import pulse_response, smooth_noise, spring
from mmgt.data.synth.face import face_landmarks
from mmgt.data.synth.hands import hand_points
from mmgt.data.synth.speakers import Speaker
from mmgt.data.synth.speech import DrivingSignals

CANVAS = 256


@dataclass(frozen=True)
class Rig:
    """Body proportions on the canonical canvas, pixels."""

    neck: tuple[float, float] = (128.0, 130.0)
    shoulder_half: float = 46.0
    head_rise: float = 48.0  # neck to the face origin (between the eyes)
    face_width: float = 54.0
    upper_arm: float = 60.0
    forearm: float = 54.0
    rest_wrist: tuple[float, float] = (30.0, 80.0)  # from the neck, x towards the arm's side is negative
    hip: tuple[float, float] = (30.0, 116.0)
    palm: float = 18.0


HAND_SHAPES = np.array([
    [0.05, 0.0, 0.0, 0.05, 0.1],  # open palm
    [0.7, 0.0, 0.9, 0.95, 0.95],  # pointing
    [0.8, 0.9, 0.95, 0.95, 0.95],  # fist
    [0.6, 0.55, 0.2, 0.15, 0.1],  # pinch
])
REST_CURL = np.array([0.2, 0.15, 0.2, 0.25, 0.3])
ARMS = ((-1.0, (2, 3, 4), K.RIGHT_HAND), (1.0, (5, 6, 7), K.LEFT_HAND))  # image-left = subject's right


class Stroke(NamedTuple):
    frame: int  # onset
    strength: float  # amplitude of the stressed syllable
    shape: int  # row of HAND_SHAPES


def _strokes(rng: np.random.Generator, stress: np.ndarray, speaker: Speaker) -> tuple[list[Stroke], list[Stroke]]:
    """Assign each stress event to the right arm, the left arm or both."""
    per_arm: tuple[list[Stroke], list[Stroke]] = ([], [])
    style = speaker.gesture
    for frame in np.flatnonzero(stress):
        both = rng.random() < style.both_hands
        right = rng.random() < style.right_hand
        shape = int(rng.integers(len(HAND_SHAPES)))
        for arm, chosen in enumerate((right or both, not right or both)):
            if chosen:
                per_arm[arm].append(Stroke(int(frame), float(stress[frame]), shape))
    return per_arm


def _arm_targets(
    rng: np.random.Generator, strokes: list[Stroke], side: float, n: int, speaker: Speaker, fps: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Wrist offset ``(T, 2)``, wrist flex ``(T,)`` and finger curl ``(T, 5)`` targets of one arm."""
    style = speaker.gesture
    offset, flex = np.zeros((n, 2)), np.zeros(n)
    curl = np.tile(REST_CURL, (n, 1))
    hold = max(int(style.hold_s * fps), 1)
    for frame, strength, shape in strokes:
        reach = style.amplitude * (0.6 + 0.4 * strength)
        target = reach * np.array([side * rng.uniform(-5.0, 30.0), -rng.uniform(20.0, 55.0)])
        profile = np.exp(-np.maximum(np.arange(n - frame) - hold, 0) / (0.35 * fps))  # hold, then relax
        offset[frame:] = target * profile[:, None]
        flex[frame:] = rng.uniform(-0.5, 0.5) * profile
        curl[frame:] = REST_CURL + (HAND_SHAPES[shape] - REST_CURL) * profile[:, None]
    return offset, flex, curl


def _elbow(shoulder: np.ndarray, wrist: np.ndarray, upper: float, fore: float, side: float) -> np.ndarray:
    """Two-link inverse kinematics; the elbow bends outwards (towards ``side``)."""
    span = wrist - shoulder
    dist = np.clip(np.linalg.norm(span, axis=-1), abs(upper - fore) + 1e-3, upper + fore - 1e-3)
    unit = span / np.maximum(np.linalg.norm(span, axis=-1, keepdims=True), 1e-6)
    angle = np.arccos(np.clip((upper**2 + dist**2 - fore**2) / (2 * upper * dist), -1.0, 1.0))
    candidates = []
    for sign in (1.0, -1.0):
        c, s = np.cos(sign * angle), np.sin(sign * angle)
        rotated = np.stack([c * unit[:, 0] - s * unit[:, 1], s * unit[:, 0] + c * unit[:, 1]], axis=-1)
        candidates.append(shoulder + upper * rotated)
    outward = side * (candidates[0][:, 0] - candidates[1][:, 0]) > 0
    return np.where(outward[:, None], candidates[0], candidates[1])


def _blinks(rng: np.random.Generator, n: int, fps: float) -> np.ndarray:
    blink = np.zeros(n)
    t = rng.uniform(0.5, 3.0) * fps
    shape = np.bartlett(max(int(0.2 * fps), 3))
    while t < n:
        start = int(t)
        stop = min(start + len(shape), n)
        blink[start:stop] = shape[: stop - start]
        t += rng.uniform(2.0, 5.0) * fps
    return blink


def animate(signals: DrivingSignals, speaker: Speaker, fps: float, rng: np.random.Generator, rig: Rig = Rig()) -> np.ndarray:
    """``(T, 134, 3)`` keypoints on the canonical 256 x 256 canvas."""
    n = len(signals.envelope)
    style, look = speaker.gesture, speaker.look
    seconds = np.arange(n) / fps
    torso = np.stack([
        style.sway * smooth_noise(rng, n, 1.2 * fps),
        0.8 * np.sin(2 * np.pi * seconds / 3.5 + rng.uniform(0, 2 * np.pi)),  # breathing
    ], axis=1)
    tilt = 0.02 * smooth_noise(rng, n, 1.5 * fps)
    neck = np.asarray(rig.neck) + torso
    energy = np.clip(signals.energy / 0.6, 0.0, 1.0)

    # head: nods on stress, drifting yaw and roll, lips follow the syllables
    nod = style.nod * pulse_response(signals.stress, 0.12 * fps) + 0.04 * smooth_noise(rng, n, 0.8 * fps)
    yaw = 0.12 * (0.6 + energy) * smooth_noise(rng, n, 1.0 * fps)
    roll = 0.04 * smooth_noise(rng, n, 1.5 * fps) + tilt
    width = rig.face_width * look.head
    center = neck + torso * 0.3 + np.stack([yaw * 6.0, -rig.head_rise * look.head + nod * 10.0], axis=1)
    mouth = np.clip(spring(np.clip(style.mouth * signals.mouth / 0.75, 0, 1), 2 * np.pi * 5, fps), 0.0, 1.0)
    face = face_landmarks(center, width, yaw, nod, roll, mouth, _blinks(rng, n, fps))

    kp = np.zeros((n, K.NUM_JOINTS, 3))
    kp[:, 24:92, :2] = face
    kp[:, 0, :2] = face[:, 30]
    kp[:, 1, :2] = neck
    kp[:, 14, :2] = face[:, 36:42].mean(1)
    kp[:, 15, :2] = face[:, 42:48].mean(1)
    for joint, jaw, other in ((16, 0, 16), (17, 16, 0)):
        kp[:, joint, :2] = face[:, jaw] + 0.08 * (face[:, jaw] - face[:, other]) + [0.0, 0.06 * width]

    for (side, (sh, el, wr), hand), strokes in zip(ARMS, _strokes(rng, signals.stress, speaker)):
        shoulder = neck + np.stack([side * rig.shoulder_half * look.shoulders * np.cos(tilt),
                                    4.0 + side * rig.shoulder_half * np.sin(tilt)], axis=1)
        offset, flex, curl = _arm_targets(rng, strokes, side, n, speaker, fps)
        lift = style.amplitude * energy[:, None] * np.array([side * 8.0, -20.0])
        target = neck + np.array([side * rig.rest_wrist[0], rig.rest_wrist[1]]) + offset + lift
        target += 3.0 * smooth_noise(rng, n, 0.7 * fps, (2,))
        target[:, 1] = np.maximum(target[:, 1], neck[:, 1] - 5.0)  # hands stay below the chin
        wrist = spring(target, 2 * np.pi * 1.6, fps)
        elbow = _elbow(shoulder, wrist, rig.upper_arm, rig.forearm, side)
        forearm = wrist - elbow
        direction = np.arctan2(forearm[:, 1], forearm[:, 0]) + spring(flex, 2 * np.pi * 1.8, fps)
        finger_curl = np.clip(spring(curl, 2 * np.pi * 2.5, fps) + 0.05 * smooth_noise(rng, n, fps, (5,)), 0, 1)
        kp[:, [sh, el, wr], :2] = np.stack([shoulder, elbow, wrist], axis=1)
        kp[:, hand[0] : hand[-1] + 1, :2] = hand_points(wrist, direction, rig.palm * look.head, finger_curl, side)
        hip = np.asarray(rig.neck) + [side * rig.hip[0], rig.hip[1]] + 0.3 * torso
        knee, ankle = hip + [0.0, 110.0], hip + [0.0, 220.0]
        kp[:, [8, 9, 10] if side < 0 else [11, 12, 13], :2] = np.stack([hip, knee, ankle], axis=1)
        kp[:, [18, 19, 20] if side > 0 else [21, 22, 23], :2] = ankle[:, None] + [[side * 12, 12], [side * 22, 10], [0, 14]]

    kp[..., 2] = rng.uniform(0.92, 0.99, (n, K.NUM_JOINTS))
    kp[:, [16, 17], 2] -= 0.1
    kp[:, [8, 11], 2] = rng.uniform(0.5, 0.6, (n, 2))
    kp[:, list(K.LOWER_BODY) + list(K.FEET), 2] = 0.0
    return kp.astype(np.float32)


def place(kp: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, float]:
    """Scale canonical keypoints to a ``(w, h)`` canvas (figure centred, height fitted); also the scale."""
    width, height = size
    scale = height / CANVAS
    out = np.array(kp, dtype=np.float32, copy=True)
    out[..., 0] = kp[..., 0] * scale + (width - CANVAS * scale) / 2.0
    out[..., 1] = kp[..., 1] * scale
    return out, scale
