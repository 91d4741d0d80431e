"""Temporal jitter of body and hand keypoints: mean acceleration magnitude in shoulder widths per frame².

On ``(T, 134, 3)`` keypoints (the method's own when it wrote them, else extracted from its video, as
for FGD) of the prediction and of GT: per joint and frame ``t`` the second difference
``a_t = p[t+1] - 2 p[t] + p[t-1]`` (pixels per frame², 25 fps), counted when the joint's score exceeds
``threshold`` in all three frames; its length divided by the side's own shoulder width (median over
the clip's frames where both shoulders are seen). Body: the 14 upper-body joints; hands: the 2x21 hand
points. A clip where a side has no seen shoulders is not scored on that side (counted).

Per clip and side the state keeps the sum (``math.fsum``) and count of the normalised accelerations;
the value is pooled over clips (every measured acceleration weighs the same), in sorted clip order.
"""

from __future__ import annotations

import math

import numpy as np

from eval.metrics.base import Direction
from eval.metrics.landmarks import ClipRowsMetric
from mmgt import keypoints as K

SHOULDERS = (K.BODY_NAMES.index("r_shoulder"), K.BODY_NAMES.index("l_shoulder"))
PARTS = {"body": K.UPPER_BODY, "hand": K.HANDS}
SIDES = ("pred", "gt")


def shoulder_width(kp: np.ndarray, threshold: float) -> float:
    """Median distance between the shoulders over the frames where both are seen (NaN if none)."""
    seen = (kp[:, SHOULDERS, 2] > threshold).all(axis=1)
    if not seen.any():
        return math.nan
    return float(np.median(np.linalg.norm(kp[seen, SHOULDERS[0], :2] - kp[seen, SHOULDERS[1], :2], axis=-1)))


def accelerations(kp: np.ndarray, joints: tuple[int, ...], threshold: float) -> np.ndarray:
    """Lengths (pixels per frame²) of the second differences of ``joints`` seen in three consecutive frames."""
    points = kp[:, list(joints)].astype(np.float64)
    seen = points[..., 2] > threshold
    both = seen[2:] & seen[1:-1] & seen[:-2]
    accel = points[2:, :, :2] - 2 * points[1:-1, :, :2] + points[:-2, :, :2]
    return np.linalg.norm(accel, axis=-1)[both]


class JitterMetric(ClipRowsMetric):
    """``update(clip_id, pred, gt)`` with both sides' ``(T, 134, 3)`` keypoints."""

    columns = tuple(f"{stat}_{part}_{side}" for side in SIDES for part in PARTS for stat in ("sum", "n")) + (
        "n_frames", "n_no_shoulders_pred", "n_no_shoulders_gt")

    def __init__(self, threshold: float = K.SCORE_THRESHOLD) -> None:
        super().__init__("jitter", threshold=threshold)
        self.threshold = threshold

    @property
    def directions(self) -> dict[str, Direction]:
        return {f"jitter_{part}{suffix}": ("lower" if side == "pred" else "none")
                for side, suffix in zip(SIDES, ("", "_gt")) for part in PARTS}

    def side_stats(self, kp: np.ndarray, side: str) -> dict[str, float]:
        width = shoulder_width(kp, self.threshold)
        stats: dict[str, float] = {f"n_no_shoulders_{side}": float(not math.isfinite(width))}
        for part, joints in PARTS.items():
            values = accelerations(kp, joints, self.threshold) / width if math.isfinite(width) else np.empty(0)
            stats[f"sum_{part}_{side}"], stats[f"n_{part}_{side}"] = math.fsum(values), len(values)
        return stats

    def update(self, clip_id: str, pred: np.ndarray, gt: np.ndarray) -> None:
        self.add_row(clip_id, n_frames=len(gt), **self.side_stats(pred, "pred"), **self.side_stats(gt, "gt"))

    def pooled(self, part: str, side: str) -> float:
        sums, counts = self.column(f"sum_{part}_{side}"), self.column(f"n_{part}_{side}")
        total = math.fsum(counts.values())
        return math.fsum(sums.values()) / total if total else math.nan  # no such joint seen in 3 frames

    def clip_values(self) -> dict[str, dict[str, float]]:
        out = {}
        for side, suffix in zip(SIDES, ("", "_gt")):
            for part in PARTS:
                sums, counts = self.column(f"sum_{part}_{side}"), self.column(f"n_{part}_{side}")
                out[f"jitter_{part}{suffix}"] = {c: sums[c] / counts[c] if counts[c] else math.nan for c in sums}
        return out

    def compute(self) -> dict[str, float]:
        return {f"jitter_{part}{suffix}": self.pooled(part, side) for side, suffix in zip(SIDES, ("", "_gt")) for part in PARTS}
