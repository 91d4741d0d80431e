"""Regions scored separately: the full frame, a face box track, and the mouth crop used for lip sync.

A box track is one square face box per frame (the tight box of a face's landmarks, or a detector's
box), filled over frames without a face and median-smoothed over time. Under the default protocol
every video gets its own track from a detector run on its own frames (``face_track="per-video"``);
``face_track="gt"`` applies the ground truth's track (GT keypoints, else MTCNN on GT frames) to both
sides. Lip sync scores the longest face track of the scored video by syncnet-python's track rules
(:func:`sync_span`).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from scipy.signal import medfilt

from eval.protocol import Protocol
from mmgt import keypoints as K


@dataclass(frozen=True)
class BoxTrack:
    """Per-frame face boxes: centre ``(cx, cy)`` and half-size ``s`` of the tight face box, pixels."""

    cx: np.ndarray
    cy: np.ndarray
    s: np.ndarray
    source: str
    found: np.ndarray  # (T,) bool: frames where the source found a face (the others are filled in)

    def frames(self, span: slice) -> BoxTrack:
        """The track over a span of frames."""
        return BoxTrack(self.cx[span], self.cy[span], self.s[span], self.source, self.found[span])

    @property
    def n_missing(self) -> int:
        """Frames without a face of their own (their boxes are interpolated from the neighbours)."""
        return int((~self.found).sum())


def resize_frames(frames: np.ndarray, size: int) -> np.ndarray:
    """``(T, H, W, 3)`` uint8 -> ``(T, size, size, 3)`` uint8 (bilinear, antialiased); identity at size."""
    if frames.shape[1:3] == (size, size):
        return frames
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float()
    y = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return y.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def _fill_and_smooth(values: np.ndarray, valid: np.ndarray, kernel: int) -> np.ndarray:
    """Fill invalid frames by linear interpolation between valid ones, then median-filter."""
    t = np.arange(len(values))
    filled = np.interp(t, t[valid], values[valid])
    k = min(kernel, len(values) if len(values) % 2 else len(values) - 1)
    return medfilt(filled, k) if k >= 3 else filled


def track_from_boxes(boxes: np.ndarray, valid: np.ndarray, protocol: Protocol, source: str) -> BoxTrack | None:
    """Box track from per-frame ``(x0, y0, x1, y1)`` boxes; None when no frame has a face."""
    if not valid.any():
        return None
    cx = (boxes[:, 0] + boxes[:, 2]) / 2
    cy = (boxes[:, 1] + boxes[:, 3]) / 2
    s = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) / 2
    k = protocol.face_smooth
    return BoxTrack(*(_fill_and_smooth(v, valid, k) for v in (cx, cy, s)), source=source, found=valid.copy())


def track_from_points(points: np.ndarray, protocol: Protocol, source: str) -> BoxTrack | None:
    """Box track from the tight box of per-frame face points ``(T, N, 2)`` pixels, NaN where absent
    (a frame counts as a face with at least 3 points)."""
    ok = np.isfinite(points).all(-1)
    valid = ok.sum(1) >= 3
    lo = np.where(ok[..., None], points, np.inf).min(1)  # (T, 2); inf in a frame without points
    hi = np.where(ok[..., None], points, -np.inf).max(1)
    boxes = np.where(valid[:, None], np.concatenate([lo, hi], 1), 0.0)
    return track_from_boxes(boxes, valid, protocol, source)


def track_from_keypoints(kp: np.ndarray, protocol: Protocol) -> BoxTrack | None:
    """Box track from the face landmarks (joints 24-91, score above the protocol's threshold) of pixel
    keypoints ``(T, 134, 3)``."""
    face = kp[:, list(K.FACE)]
    points = np.where((face[..., 2] > protocol.score_threshold)[..., None], face[..., :2], np.nan)
    return track_from_points(points, protocol, "gt-keypoints")


def detect_boxes(frames: np.ndarray, detector) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame ``(x0, y0, x1, y1)`` boxes of a face detector (returning a box or None per frame) and
    whether each frame has one."""
    boxes = np.zeros((len(frames), 4), np.float64)
    valid = np.zeros(len(frames), bool)
    for i, box in enumerate(detector(frames)):
        if box is not None:
            boxes[i], valid[i] = box, True
    return boxes, valid


def track_from_detector(frames: np.ndarray, protocol: Protocol, detector) -> BoxTrack | None:
    """Box track from a face detector's per-frame boxes (None when no frame has a face)."""
    return track_from_boxes(*detect_boxes(frames, detector), protocol, getattr(detector, "name", "detector"))


def sync_span(track: BoxTrack, protocol: Protocol) -> slice | None:
    """The frames lip sync scores: syncnet-python's ``track_shot`` rules on the frames with a face.

    Detections at most ``sync_max_gap`` frames apart join one track (the frames between them are
    filled, as its ``interp1d`` does); the longest track is scored (the first of equals), and only
    when it spans at least ``sync_min_track`` frames. None: no track qualifies.
    """
    idx = np.flatnonzero(track.found)
    if not len(idx):
        return None
    breaks = np.flatnonzero(np.diff(idx) > protocol.sync_max_gap)
    starts, ends = np.r_[idx[0], idx[breaks + 1]], np.r_[idx[breaks], idx[-1]] + 1
    best = int(np.argmax(ends - starts))
    if ends[best] - starts[best] < protocol.sync_min_track:
        return None
    return slice(int(starts[best]), int(ends[best]))


def _crop_padded(frame: np.ndarray, y0: int, y1: int, x0: int, x1: int, fill: int) -> np.ndarray:
    """``frame[y0:y1, x0:x1]`` with out-of-frame pixels set to ``fill``."""
    h, w = frame.shape[:2]
    out = np.full((y1 - y0, x1 - x0, frame.shape[2]), fill, frame.dtype)
    sy0, sy1, sx0, sx1 = max(y0, 0), min(y1, h), max(x0, 0), min(x1, w)
    if sy1 > sy0 and sx1 > sx0:
        out[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = frame[sy0:sy1, sx0:sx1]
    return out


def face_crops(frames: np.ndarray, track: BoxTrack, protocol: Protocol) -> np.ndarray:
    """Square face crops (side ``face_expand * 2s``) resized to ``face_size``; zero padding outside."""
    crops = []
    for f, cx, cy, s in zip(frames, track.cx, track.cy, track.s):
        half = max(1, int(round(protocol.face_expand * s)))
        x0, y0 = int(round(cx)) - half, int(round(cy)) - half
        crops.append(resize_frames(_crop_padded(f, y0, y0 + 2 * half, x0, x0 + 2 * half, 0)[None], protocol.face_size)[0])
    return np.stack(crops)


def mouth_crops(frames: np.ndarray, track: BoxTrack, protocol: Protocol, size: int = 224) -> np.ndarray:
    """syncnet-python's crop geometry (crop scale 0.4; padding value 110): ``(T, size, size, 3)``."""
    cs = protocol.sync_crop_scale
    crops = []
    for f, cx, cy, s in zip(frames, track.cx, track.cy, track.s):
        bs = float(s)
        bsi = int(bs * (1 + 2 * cs))
        my, mx = cy + bsi, cx + bsi  # coordinates in the frame padded by bsi on every side
        y0, y1 = int(my - bs), int(my + bs * (1 + 2 * cs))
        x0, x1 = int(mx - bs * (1 + cs)), int(mx + bs * (1 + cs))
        crop = _crop_padded(f, y0 - bsi, y1 - bsi, x0 - bsi, x1 - bsi, 110)
        crops.append(cv2.resize(crop, (size, size)))
    return np.stack(crops)
