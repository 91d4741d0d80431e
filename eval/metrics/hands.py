"""HKC and HKV: hand keypoint confidence and variance on the generated video (CyberHost, EchoMimicV2).

Both read the 2x21 hand points (``(T, 42, 3)``: x, y in pixels of the protocol-size frames, score) that
one pose model finds in each video, prediction and GT alike:

* HKC = the mean score of all 2x21 hand points over all frames. A hand the model does not find scores
  0 in that frame (every frame counts; none is dropped), so a video whose hands vanish scores lower.
* HKV = per hand point, the variance over time of its position (``var(x) + var(y)``, positions divided
  by the frame side, so in frame-side² units) over the frames where its score exceeds ``threshold``;
  a point seen in fewer than 2 frames has no measured motion and counts 0 (counted as unseen); the
  clip's value is the mean over all 42 points. Higher means more hand motion.

Two variants, never mixed (each its own metric and its own outputs):

* ``hkc`` (outputs ``hkc``, ``hkv``): DWPose's per-keypoint SimCC scores (the papers' model).
* ``hkc_mp`` (outputs ``hkc_mp``, ``hkv_mp``): MediaPipe Holistic's hand landmarks. MediaPipe gives no
  per-keypoint confidence: a hand it tracks scores 1 at each of its 21 points, a hand it does not
  track 0, so ``hkc_mp`` is the share of (frame, hand) slots with a tracked hand.

HKC is pooled over all points of all clips (every frame weighs the same), HKV is the mean over
clips; both are reported for the prediction and for GT (``*_gt``).
"""

from __future__ import annotations

import math

import numpy as np

from eval.extractors.mediapipe_landmarks import HOLISTIC_POINTS, POSE_POINTS
from eval.metrics.base import Direction
from eval.metrics.landmarks import ClipRowsMetric
from mmgt import keypoints as K

VARIANTS = {"hkc": "", "hkc_mp": "_mp"}  # metric name -> output suffix
SIDES = ("pred", "gt")
MIN_SEEN_FRAMES = 2


def hands_from_keypoints(kp: np.ndarray) -> np.ndarray:
    """``(T, 42, 3)`` hand points of ``(T, 134, 3)`` keypoints (left hand, then right)."""
    return np.asarray(kp, np.float64)[:, list(K.HANDS)]


def hands_from_holistic(points: np.ndarray) -> np.ndarray:
    """``(T, 42, 3)`` hand points of ``(T, 75, 3)`` MediaPipe holistic landmarks (NaN where not tracked -> score 0)."""
    out = np.asarray(points, np.float64)[:, POSE_POINTS:HOLISTIC_POINTS].copy()
    out[~np.isfinite(out).all(axis=-1)] = 0.0
    return out


def hand_variance(hands: np.ndarray, size: int, threshold: float) -> tuple[float, int]:
    """Mean over the hand points of ``var(x) + var(y)`` (frame-side units; 0 for a point seen in fewer than
    2 frames), and the count of such unseen points."""
    values, unseen = [], 0
    for j in range(hands.shape[1]):
        seen = hands[:, j, 2] > threshold
        if seen.sum() >= MIN_SEEN_FRAMES:
            values.append(float((hands[seen, j, :2] / size).var(axis=0).sum()))
        else:
            values.append(0.0)
            unseen += 1
    return math.fsum(values) / len(values), unseen


class HandKeypointMetric(ClipRowsMetric):
    """``update(clip_id, pred, gt)`` with both sides' ``(T, 42, 3)`` hand points; ``name`` picks the variant."""

    columns = tuple(f"{c}_{side}" for side in SIDES for c in ("conf_sum", "n_points", "hkv", "n_unseen_points")) + (
        "n_frames", "n_no_hands_pred", "n_no_hands_gt")

    def __init__(self, name: str = "hkc", size: int = 256, threshold: float = K.SCORE_THRESHOLD) -> None:
        if name not in VARIANTS:
            raise ValueError(f"unknown hand-keypoint variant {name!r}; choose from {', '.join(VARIANTS)}")
        super().__init__(name, size=size, threshold=threshold)
        self.suffix, self.size, self.threshold = VARIANTS[name], size, threshold

    def output(self, stat: str, side: str) -> str:
        return f"{stat}{self.suffix}" + ("_gt" if side == "gt" else "")

    @property
    def directions(self) -> dict[str, Direction]:
        return {self.output(s, side): ("higher" if side == "pred" else "none") for side in SIDES for s in ("hkc", "hkv")}

    def side_stats(self, hands: np.ndarray, side: str) -> dict[str, float]:
        hkv, unseen = hand_variance(hands, self.size, self.threshold)
        no_hands = ~(hands[..., 2] > self.threshold).any(axis=1)
        return {f"conf_sum_{side}": math.fsum(hands[..., 2].ravel()), f"n_points_{side}": hands[..., 2].size,
                f"hkv_{side}": hkv, f"n_unseen_points_{side}": unseen, f"n_no_hands_{side}": no_hands.sum()}

    def update(self, clip_id: str, pred: np.ndarray, gt: np.ndarray) -> None:
        self.add_row(clip_id, n_frames=len(gt), **self.side_stats(pred, "pred"), **self.side_stats(gt, "gt"))

    def clip_values(self) -> dict[str, dict[str, float]]:
        out = {}
        for side in SIDES:
            sums, counts = self.column(f"conf_sum_{side}"), self.column(f"n_points_{side}")
            out[self.output("hkc", side)] = {c: sums[c] / counts[c] for c in sums}
            out[self.output("hkv", side)] = self.column(f"hkv_{side}")
        return out

    def compute(self) -> dict[str, float]:
        out = {}
        for side in SIDES:
            sums, counts = self.column(f"conf_sum_{side}"), self.column(f"n_points_{side}")
            out[self.output("hkc", side)] = math.fsum(sums.values()) / math.fsum(counts.values())
            values = list(self.column(f"hkv_{side}").values())
            out[self.output("hkv", side)] = math.fsum(values) / len(values)
        return out
