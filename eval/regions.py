"""Regions scored separately: the full frame, a face box track, and the mouth crop used for lip sync.

One square face box per frame is computed from the ground truth (face landmarks of the GT keypoints,
else MTCNN on the GT frames), median-smoothed over time, and applied identically to the prediction
and the ground truth.
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
    return BoxTrack(*(_fill_and_smooth(v, valid, k) for v in (cx, cy, s)), source=source)


def track_from_keypoints(kp: np.ndarray, protocol: Protocol) -> BoxTrack | None:
    """Box track from the face landmarks (joints 24-91) of pixel keypoints ``(T, 134, 3)``."""
    face = kp[:, list(K.FACE)]
    ok = face[..., 2] > protocol.score_threshold
    valid = ok.sum(1) >= 3
    big = np.float32(1e9)
    x = np.where(ok, face[..., 0], np.nan)
    y = np.where(ok, face[..., 1], np.nan)
    with np.errstate(all="ignore"):
        boxes = np.stack([np.nanmin(x, 1), np.nanmin(y, 1), np.nanmax(x, 1), np.nanmax(y, 1)], 1)
    boxes = np.nan_to_num(boxes, nan=0.0, posinf=big, neginf=-big)
    return track_from_boxes(boxes, valid, protocol, "gt-keypoints")


def track_from_detector(frames: np.ndarray, protocol: Protocol, detector) -> BoxTrack | None:
    """Box track from a face detector returning per-frame ``(x0, y0, x1, y1)`` boxes or None."""
    boxes = np.zeros((len(frames), 4), np.float64)
    valid = np.zeros(len(frames), bool)
    for i, box in enumerate(detector(frames)):
        if box is not None:
            boxes[i], valid[i] = box, True
    return track_from_boxes(boxes, valid, protocol, getattr(detector, "name", "detector"))


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
