"""Landmark metrics (this project's additions): mouth LMD, lip-audio correlation and pose error.

All three compare MediaPipe landmarks (:mod:`eval.extractors.mediapipe_landmarks`) of the
prediction with those of the ground truth, frame by frame, in pixels of the protocol-size frames:

* mouth LMD: mean distance between the 40 lip points of the face mesh, each face's points in that
  face's own frame (:func:`face_frame`: origin between the outer eye corners, x along the eye line,
  unit inter-ocular distance), so it compares lip shapes, not head positions; mean over the frames
  where both sides have a face, then pooled over clips by their scored frames (every scored frame weighs the same, so
  a clip where the detector found a face in 2 frames weighs 2/80 of one where it found 80).
* lip-audio correlation: Pearson correlation between the inner-lip opening (mean signed vertical
  gap of three inner-lip point pairs, divided by the same face's inter-ocular distance) and the
  40 ms RMS envelope of the clip's audio (:func:`mmgt.lip_audio.audio_envelope`), over the frames
  with a face; a mouth whose opening varies by less than ``motion_floor`` (std, in inter-ocular
  distances: MediaPipe's jitter on a still video is ~0.001) or with fewer than 3 frames with a
  face counts as constant and scores 0. Mean over clips, reported for the prediction and for GT.
* pose error: holistic upper-body (nose, eyes, ears, shoulders, elbows, wrists) and hand points.
  A GT point counts when GT has it (body points: visibility above ``visibility``); its error is the
  distance to the prediction's point divided by GT's shoulder width in that frame. Per clip: the
  mean error over points both sides have, and PCK, the share of GT points the prediction places
  within ``pck`` shoulder widths (a point the prediction lacks is a miss). The error is pooled over
  clips by their scored points, PCK averaged over clips.

Frames where a detector finds nothing are counted per side (``n_no_face_*``, ``n_no_body_*``) and
reported with the values. The state is one float64 row per clip (its per-clip sums and counts,
computed with ``math.fsum``); shards concatenate rows, and results are ``math.fsum`` means over
clips in sorted id order (pooled means weight each clip's mean by its count), so a merge equals the
single run exactly.
"""

from __future__ import annotations

import copy
import math
from typing import ClassVar

import numpy as np

from eval.extractors.mediapipe_landmarks import LEFT_HAND, POSE_POINTS, RIGHT_HAND
from eval.metrics.base import Direction, Metric, clip_mean
from mmgt.lip_audio import pearson
from mmgt.pose.mediapipe_holistic import COCO_BODY_FROM_POSE

# face mesh points: the 40 points of mediapipe's FACEMESH_LIPS, outer eye corners, inner-lip (upper, lower) pairs
MOUTH = (0, 13, 14, 17, 37, 39, 40, 61, 78, 80, 81, 82, 84, 87, 88, 91, 95, 146, 178, 181, 185, 191, 267, 269,
         270, 291, 308, 310, 311, 312, 314, 317, 318, 321, 324, 375, 402, 405, 409, 415)
EYE_CORNERS = (33, 263)
INNER_LIP_PAIRS = ((82, 87), (13, 14), (312, 317))
# holistic points: COCO's upper body (its first 11 joints) as pose landmarks, then both hands
UPPER_BODY = COCO_BODY_FROM_POSE[:11]
SHOULDERS = (11, 12)
HANDS = tuple(range(LEFT_HAND.start, LEFT_HAND.stop)) + tuple(range(RIGHT_HAND.start, RIGHT_HAND.stop))
MIN_FACE_FRAMES = 3


def _found(points: np.ndarray) -> np.ndarray:
    """``(T,)``: whether the detector found anything in each frame of ``(T, N, C)`` landmarks."""
    return np.isfinite(points).all(axis=(1, 2))


def inter_ocular(mesh: np.ndarray) -> np.ndarray:
    """``(T,)`` distance between the outer eye corners of ``(T, 468, 2)`` face-mesh points."""
    return np.linalg.norm(mesh[:, EYE_CORNERS[0]] - mesh[:, EYE_CORNERS[1]], axis=-1)


def face_frame(mesh: np.ndarray, points: tuple[int, ...]) -> np.ndarray:
    """``(T, len(points), 2)``: face-mesh ``points`` in each frame's face frame (origin midway between the outer
    eye corners, x towards the person's left eye corner (263), y perpendicular, unit inter-ocular distance)."""
    left, right = mesh[:, EYE_CORNERS[0]], mesh[:, EYE_CORNERS[1]]
    axis = right - left
    iod = np.linalg.norm(axis, axis=-1, keepdims=True)
    u = axis / iod
    v = np.stack([-u[:, 1], u[:, 0]], axis=-1)
    rel = mesh[:, list(points)] - ((left + right) / 2)[:, None]
    return np.stack([(rel * u[:, None]).sum(-1), (rel * v[:, None]).sum(-1)], axis=-1) / iod[:, None]


def lip_opening(mesh: np.ndarray) -> np.ndarray:
    """``(T,)`` signed inner-lip opening (lower minus upper y) in inter-ocular distances."""
    upper, lower = zip(*INNER_LIP_PAIRS)
    gap = (mesh[:, list(lower), 1] - mesh[:, list(upper), 1]).mean(axis=1)
    return gap / inter_ocular(mesh)


def _fmean(values: np.ndarray) -> float:
    return math.fsum(values) / len(values) if len(values) else math.nan


class ClipRowsMetric(Metric):
    """One float64 row of ``columns`` per clip; ``n_*`` columns are counts summed into the diagnostics."""

    columns: ClassVar[tuple[str, ...]]

    def __init__(self, name: str, **config: int | float | str) -> None:
        super().__init__(name, **config)
        self.add_state("clip", np.empty(0, dtype=str), "cat")
        self.add_state("row", np.empty((0, len(self.columns))), "cat")

    def add_row(self, clip_id: str, **values: float) -> None:
        self._add("clip", [clip_id])
        self._add("row", [[values[c] for c in self.columns]])

    def column(self, name: str) -> dict[str, float]:
        """One column by clip id (sorted)."""
        clips, rows = self._get("clip"), self._get("row")
        if len(np.unique(clips)) != len(clips):
            raise ValueError(f"{self.name}: a clip was scored twice (overlapping shards?)")
        j = self.columns.index(name)
        return {str(clips[i]): float(rows[i, j]) for i in np.argsort(clips, kind="stable")}

    def mean(self, name: str) -> float:
        """Mean of a column over clips (sorted ids) where it is defined."""
        values = [v for v in self.column(name).values() if math.isfinite(v)]
        if not values:
            raise ValueError(f"{self.name}: no clip could be scored")
        return _fmean(values)

    def pooled_mean(self, name: str, weights: dict[str, float]) -> float:
        """Mean of a column over clips weighted by ``weights`` (each clip's count of scored frames or points)."""
        pairs = [(v, weights[c]) for c, v in self.column(name).items() if weights[c] > 0]
        total = math.fsum(w for _, w in pairs)
        if not total:
            raise ValueError(f"{self.name}: no clip could be scored")
        return math.fsum(v * w for v, w in pairs) / total

    def clip_ids(self) -> list[str]:
        return list(self.column(self.columns[0]))

    def resample(self, counts: np.ndarray) -> dict[str, np.ndarray]:
        """Any family whose outputs are a function of its per-clip rows: :meth:`compute` on each multiset (the
        rows repeated as drawn, the copies' ids told apart); families with a closed form override it."""
        order = np.argsort(self._get("clip"), kind="stable")
        clips, rows = self._get("clip")[order], self._get("row")[order]
        out = {name: np.full(len(counts), np.nan) for name in self.directions}
        twin = copy.copy(self)
        for b, drawn in enumerate(counts.astype(int)):
            twin._state = {**self._state, "clip": [np.array([f"{c}#{k}" for c, n in zip(clips, drawn) for k in range(n)])],
                           "row": [np.repeat(rows, drawn, axis=0)]}
            try:
                values = twin.compute()
            except ValueError:  # nothing scorable in this multiset
                continue
            for name, value in values.items():
                out[name][b] = value
        return out

    def resampled_mean(self, counts: np.ndarray, name: str, weights: dict[str, float] | None = None) -> np.ndarray:
        """:meth:`mean` (or with ``weights``, :meth:`pooled_mean`) on each of the ``(B, n)`` clip multisets."""
        column = self.column(name)
        return clip_mean(counts, list(column.values()), None if weights is None else [weights[c] for c in column])

    def diagnostics(self) -> dict[str, int]:
        rows = self._get("row")
        counts = {c: int(rows[:, j].sum()) for j, c in enumerate(self.columns) if c.startswith("n_")}
        return {"n_clips": len(rows)} | counts


class MouthLMDMetric(ClipRowsMetric):
    """``update(clip_id, pred, gt)`` with both sides' ``(T, 468, 2)`` face-mesh points."""

    columns = ("mouth_lmd", "n_frames", "n_scored", "n_no_face_pred", "n_no_face_gt")

    def __init__(self) -> None:
        super().__init__("mouth_lmd")

    @property
    def directions(self) -> dict[str, Direction]:
        return {"mouth_lmd": "lower"}

    def update(self, clip_id: str, pred: np.ndarray, gt: np.ndarray) -> None:
        both = _found(pred) & _found(gt)
        p, g = (face_frame(m[both].astype(np.float64), MOUTH) for m in (pred, gt))
        dist = np.linalg.norm(p - g, axis=-1).mean(axis=1)
        self.add_row(clip_id, mouth_lmd=_fmean(dist), n_frames=len(gt), n_scored=both.sum(),
                     n_no_face_pred=(~_found(pred)).sum(), n_no_face_gt=(~_found(gt)).sum())

    def clip_values(self) -> dict[str, dict[str, float]]:
        return {"mouth_lmd": self.column("mouth_lmd")}

    def compute(self) -> dict[str, float]:
        return {"mouth_lmd": self.pooled_mean("mouth_lmd", self.column("n_scored"))}

    def resample(self, counts: np.ndarray) -> dict[str, np.ndarray]:
        return {"mouth_lmd": self.resampled_mean(counts, "mouth_lmd", self.column("n_scored"))}


class LipAudioMetric(ClipRowsMetric):
    """``update(clip_id, pred, gt, envelope)``: face-mesh points of both sides and the ``(T,)`` audio envelope."""

    columns = ("corr", "corr_gt", "n_frames", "n_no_face_pred", "n_no_face_gt", "n_constant_pred", "n_constant_gt")

    def __init__(self, motion_floor: float = 0.005) -> None:
        super().__init__("lip_audio", motion_floor=motion_floor)
        self.motion_floor = motion_floor

    @property
    def directions(self) -> dict[str, Direction]:
        return {"lip_audio_corr": "higher", "lip_audio_corr_gt": "none"}

    def correlation(self, mesh: np.ndarray, envelope: np.ndarray) -> tuple[float, bool]:
        """One side's Pearson correlation over its frames with a face, and whether its mouth counts as constant."""
        face = _found(mesh)
        opening = lip_opening(mesh[face]).astype(np.float64)
        if face.sum() < MIN_FACE_FRAMES or opening.std() < self.motion_floor:
            return 0.0, True
        return pearson(opening, envelope[face]), False

    def update(self, clip_id: str, pred: np.ndarray, gt: np.ndarray, envelope: np.ndarray) -> None:
        if not len(pred) == len(gt) == len(envelope):
            raise ValueError(f"lip_audio: {len(pred)} pred, {len(gt)} gt frames and {len(envelope)} envelope values")
        (corr, const), (corr_gt, const_gt) = self.correlation(pred, envelope), self.correlation(gt, envelope)
        self.add_row(clip_id, corr=corr, corr_gt=corr_gt, n_frames=len(gt), n_no_face_pred=(~_found(pred)).sum(),
                     n_no_face_gt=(~_found(gt)).sum(), n_constant_pred=const, n_constant_gt=const_gt)

    def clip_values(self) -> dict[str, dict[str, float]]:
        return {"lip_audio_corr": self.column("corr"), "lip_audio_corr_gt": self.column("corr_gt")}

    def compute(self) -> dict[str, float]:
        return {"lip_audio_corr": self.mean("corr"), "lip_audio_corr_gt": self.mean("corr_gt")}

    def resample(self, counts: np.ndarray) -> dict[str, np.ndarray]:
        return {"lip_audio_corr": self.resampled_mean(counts, "corr"), "lip_audio_corr_gt": self.resampled_mean(counts, "corr_gt")}


class PoseErrorMetric(ClipRowsMetric):
    """``update(clip_id, pred, gt)`` with both sides' ``(T, 75, 3)`` holistic points."""

    columns = ("error", "pck", "n_frames", "n_points", "n_missed", "n_no_body_pred", "n_no_body_gt")

    def __init__(self, pck: float = 0.1, visibility: float = 0.5) -> None:
        super().__init__("pose_error", pck=pck, visibility=visibility)
        self.pck, self.visibility = pck, visibility

    @property
    def directions(self) -> dict[str, Direction]:
        return {"pose_err": "lower", "pck": "higher"}

    def update(self, clip_id: str, pred: np.ndarray, gt: np.ndarray) -> None:
        pred, gt = pred.astype(np.float64), gt.astype(np.float64)
        body_gt, body_pred = _found(gt[:, :POSE_POINTS]), _found(pred[:, :POSE_POINTS])
        width = np.linalg.norm(gt[:, SHOULDERS[0], :2] - gt[:, SHOULDERS[1], :2], axis=-1)
        points = list(UPPER_BODY + HANDS)
        with np.errstate(invalid="ignore"):
            has_gt = np.isfinite(gt[:, points, 0]) & (gt[:, points, 2] > self.visibility) & body_gt[:, None]
            error = np.linalg.norm(pred[:, points, :2] - gt[:, points, :2], axis=-1) / width[:, None]
        scored = has_gt & np.isfinite(error)
        n_points = has_gt.sum()
        pck = (error[scored] <= self.pck).sum() / n_points if n_points else math.nan
        self.add_row(clip_id, error=_fmean(error[scored]), pck=pck, n_frames=len(gt), n_points=n_points, n_missed=(has_gt & ~scored).sum(),
                     n_no_body_pred=(~body_pred).sum(), n_no_body_gt=(~body_gt).sum())

    def clip_values(self) -> dict[str, dict[str, float]]:
        return {"pose_err": self.column("error"), "pck": self.column("pck")}

    def scored_points(self) -> dict[str, float]:
        """Each clip's count of points the error is pooled over (GT's points the prediction has)."""
        points, missed = self.column("n_points"), self.column("n_missed")
        return {c: points[c] - missed[c] for c in points}

    def compute(self) -> dict[str, float]:
        return {"pose_err": self.pooled_mean("error", self.scored_points()), "pck": self.mean("pck")}

    def resample(self, counts: np.ndarray) -> dict[str, np.ndarray]:
        return {"pose_err": self.resampled_mean(counts, "error", self.scored_points()), "pck": self.resampled_mean(counts, "pck")}
