"""Beat alignment (BA): kinematic beats of the keypoints against the audio's onsets.

The form of AI Choreographer (Li et al. 2021), Bailando and EDGE, with the co-speech papers' audio
onsets in place of music beats:

* joint speed per frame step ``t -> t+1``: the mean over the upper-body and hand joints seen in both
  frames (score above ``threshold``) of their displacement in pixels; steps with no joint seen are
  linearly interpolated from their neighbours;
* smoothed with a Gaussian of ``smooth`` frames (``scipy.ndimage.gaussian_filter1d``, reflect, truncate 4;
  Bailando smooths its 60 fps speed with sigma 5 frames, 0.083 s: 2 frames at 25 fps);
* kinematic beats: strict local minima of the smoothed speed (``scipy.signal.argrelextrema(np.less)``),
  at time ``t + 0.5`` frames (between the two frames of the step);
* audio beats: onset frames of :func:`eval.extractors.onsets.audio_onsets`;
* BA of a clip = mean over its **kinematic** beats of ``exp(-d² / (2 sigma²))``, ``d`` the distance in
  frames to the nearest audio onset, ``sigma`` = 3 frames (the literal of Bailando's and EDGE's code).
  The paper's equation (Li et al. 2021) averages over kinematic beats, as here and in the co-speech
  papers' beat consistency; Bailando's released ``BA()`` averages over the music beats instead.

A clip without kinematic beats or without onsets is not scored on that side (counted). The state is one
float64 row per clip; BA is the mean over scored clips (sorted ids), for the prediction and for GT.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.signal import argrelextrema

from eval.metrics.base import Direction
from eval.metrics.landmarks import ClipRowsMetric
from mmgt import keypoints as K

JOINTS = K.UPPER_BODY + K.HANDS


def joint_speed(kp: np.ndarray, threshold: float) -> np.ndarray:
    """``(T-1,)`` mean displacement of the seen joints per frame step (NaN-free; empty if nothing is seen)."""
    points = kp[:, list(JOINTS)].astype(np.float64)
    seen = points[..., 2] > threshold
    both = seen[1:] & seen[:-1]
    step = np.linalg.norm(points[1:, :, :2] - points[:-1, :, :2], axis=-1)
    counts = both.sum(axis=1)
    speed = np.where(counts > 0, (step * both).sum(axis=1) / np.maximum(counts, 1), np.nan)
    known = np.flatnonzero(counts > 0)
    if not len(known):
        return np.empty(0)
    return np.interp(np.arange(len(speed)), known, speed[known])


def kinematic_beats(kp: np.ndarray, threshold: float, smooth: float) -> np.ndarray:
    """Beat times in frames: strict local minima of the smoothed joint speed, at the middle of their step."""
    speed = joint_speed(kp, threshold)
    if len(speed) < 3:
        return np.empty(0)
    smoothed = gaussian_filter1d(speed, smooth, mode="reflect", truncate=4.0) if smooth > 0 else speed
    return argrelextrema(smoothed, np.less)[0] + 0.5


def beat_alignment(motion_beats: np.ndarray, audio_beats: np.ndarray, sigma: float) -> float:
    """Mean over ``motion_beats`` of ``exp(-d² / 2 sigma²)``, ``d`` the distance to the nearest audio beat."""
    if not len(motion_beats) or not len(audio_beats):
        return math.nan
    d = np.abs(np.asarray(motion_beats, np.float64)[:, None] - np.asarray(audio_beats, np.float64)[None]).min(axis=1)
    return math.fsum(np.exp(-(d**2) / (2 * sigma**2))) / len(d)


class BeatAlignMetric(ClipRowsMetric):
    """``update(clip_id, pred, gt, onsets)``: both sides' ``(T, 134, 3)`` keypoints and the audio's onset frames."""

    columns = ("ba", "ba_gt", "n_frames", "n_beats_pred", "n_beats_gt", "n_onsets", "n_unscored_pred", "n_unscored_gt")

    def __init__(self, sigma: float = 3.0, smooth: float = 2.0, threshold: float = K.SCORE_THRESHOLD) -> None:
        super().__init__("beat_align", sigma=sigma, smooth=smooth, threshold=threshold)
        self.sigma, self.smooth, self.threshold = sigma, smooth, threshold

    @property
    def directions(self) -> dict[str, Direction]:
        return {"ba": "higher", "ba_gt": "none"}

    def update(self, clip_id: str, pred: np.ndarray, gt: np.ndarray, onsets: np.ndarray) -> None:
        beats = {side: kinematic_beats(kp, self.threshold, self.smooth) for side, kp in (("pred", pred), ("gt", gt))}
        ba = {side: beat_alignment(b, onsets, self.sigma) for side, b in beats.items()}
        self.add_row(clip_id, ba=ba["pred"], ba_gt=ba["gt"], n_frames=len(gt), n_beats_pred=len(beats["pred"]),
                     n_beats_gt=len(beats["gt"]), n_onsets=len(onsets), n_unscored_pred=math.isnan(ba["pred"]),
                     n_unscored_gt=math.isnan(ba["gt"]))

    def clip_values(self) -> dict[str, dict[str, float]]:
        return {"ba": self.column("ba"), "ba_gt": self.column("ba_gt")}

    def compute(self) -> dict[str, float]:
        return {"ba": self.mean("ba"), "ba_gt": self.mean("ba_gt")}
