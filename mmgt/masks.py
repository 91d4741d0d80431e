"""Motion masks (paper Algorithm 1) and their stage-2 preprocessing.

Per frame, each region's box is the axis-aligned bounding box of its valid joints (score above the
threshold); a region with no valid joint has no box. A box covers pixel ``(i, j)`` when
``floor(x0) <= j <= floor(x1)`` and ``floor(y0) <= i <= floor(y1)`` (the release's filled
``cv2.rectangle`` on truncated corners), so a single valid joint marks its own pixel. An optional
margin scales each box about its centre (1.0 = tight, as the release draws them).

``M_fh`` = face OR either hand, ``M_bg = 1 - M_fh``. The still-mask ablation replaces every frame
by the union over the clip (Hallo's fixed masks).

Stage 2 (the release's ``blur_mask``): each mask is brought to a working resolution (64 x 64),
Gaussian-blurred (kernel 31 for face+hands, 21 for lips; sigma from the kernel as OpenCV derives
it), min-max normalised per frame to [0, 1], and resized to each UNet level. Fixed release bugs:
an all-zero frame stays all zero and a frame covering the whole image stays all one (the release's
``cv2.NORM_MINMAX`` maps every constant frame to zeros); the soft background is ``1 - soft M_fh``,
the exact complement, instead of a separately blurred video; downsampling uses area averaging
(the release's bilinear resize drops small boxes between samples).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path

import cv2
import numpy as np

from mmgt import keypoints as K
from mmgt.video_io import FPS, write_video

MASK_REGIONS: dict[str, tuple[int, ...]] = {
    "face": K.FACE,
    "lips": K.LIPS,
    "left_hand": K.LEFT_HAND,
    "right_hand": K.RIGHT_HAND,
    "body": K.UPPER_BODY,  # limbs: the upper-body joints of the OpenPose-18 body
}


@dataclass(frozen=True)
class MaskConfig:
    """Motion-mask settings; defaults are the official release's (see official-mmgt-facts.md)."""

    threshold: float = K.SCORE_THRESHOLD
    margin: float = 1.0  # box scale about its centre; the release's unused face_expand_ratio was 1.2
    work_size: tuple[int, int] = (64, 64)  # (h, w) at which masks are blurred
    blur_face: int = 31  # Gaussian kernel for M_fh (face + hands)
    blur_lips: int = 21
    levels: tuple[tuple[int, int], ...] = ((32, 32), (16, 16), (8, 8), (4, 4))  # (h, w) per UNet level

    def __post_init__(self) -> None:
        if self.margin <= 0:
            raise ValueError(f"margin must be positive, got {self.margin}")
        for name in ("blur_face", "blur_lips"):
            kernel = getattr(self, name)
            if kernel < 1 or kernel % 2 == 0:
                raise ValueError(f"{name} must be a positive odd kernel size, got {kernel}")


def region_boxes(kp: np.ndarray, joints: tuple[int, ...], threshold: float = K.SCORE_THRESHOLD) -> np.ndarray:
    """``(T, 4)`` float boxes ``(x0, y0, x1, y1)`` of the valid ``joints`` of each frame; NaN rows when none."""
    K.check_shape(kp)
    sub = np.asarray(kp, dtype=np.float64)[..., list(joints), :]
    ok = K.validity(sub, threshold) & np.isfinite(sub[..., :2]).all(-1)
    xy = sub[..., :2]
    lo = np.where(ok[..., None], xy, np.inf).min(axis=-2)
    hi = np.where(ok[..., None], xy, -np.inf).max(axis=-2)
    boxes = np.concatenate([lo, hi], axis=-1)
    boxes[~ok.any(-1)] = np.nan
    return boxes


def expand_boxes(boxes: np.ndarray, margin: float, size: tuple[int, int]) -> np.ndarray:
    """Scale boxes by ``margin`` about their centres and clip them to a ``(w, h)`` frame.

    A box lying wholly outside the frame becomes empty (NaN).
    """
    centre = (boxes[..., :2] + boxes[..., 2:]) / 2
    half = (boxes[..., 2:] - boxes[..., :2]) / 2 * margin
    lo, hi = centre - half, centre + half
    limit = np.array([size[0] - 1, size[1] - 1], dtype=np.float64)
    outside = (hi < 0).any(-1) | (lo > limit).any(-1)
    out = np.concatenate([np.clip(lo, 0, limit), np.clip(hi, 0, limit)], axis=-1)
    out[outside] = np.nan
    return out


def box_masks(boxes: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``(T, H, W)`` bool masks of ``(T, 4)`` boxes on a ``(w, h)`` frame (NaN boxes give empty masks)."""
    width, height = size
    filled = np.nan_to_num(boxes, nan=-1.0)  # NaN -> the empty box [-1, -1] .. [-1, -1]
    corners = np.floor(filled).astype(np.int64)
    cols, rows = np.arange(width), np.arange(height)
    in_x = (cols >= corners[:, 0, None]) & (cols <= corners[:, 2, None])
    in_y = (rows >= corners[:, 1, None]) & (rows <= corners[:, 3, None])
    return in_y[:, :, None] & in_x[:, None, :]


@dataclass(frozen=True)
class MotionMasks:
    """Per-frame binary masks ``(T, H, W)`` bool of each region (paper Algorithm 1)."""

    face: np.ndarray
    lips: np.ndarray
    left_hand: np.ndarray
    right_hand: np.ndarray
    body: np.ndarray

    @property
    def face_hands(self) -> np.ndarray:
        """``M_fh``: face or either hand."""
        return self.face | self.left_hand | self.right_hand

    @property
    def background(self) -> np.ndarray:
        """``M_bg = 1 - M_fh``."""
        return ~self.face_hands

    def still(self) -> MotionMasks:
        """The still-mask variant: every frame is the union of the clip's masks."""
        return replace(self, **{f.name: np.broadcast_to(getattr(self, f.name).any(0), getattr(self, f.name).shape)
                                for f in fields(self)})


def motion_masks(kp: np.ndarray, size: tuple[int, int], config: MaskConfig = MaskConfig()) -> MotionMasks:
    """Region masks of ``(T, 134, 3)`` pixel keypoints on a ``(w, h)`` frame."""
    K.check_shape(kp)
    if kp.ndim != 3:
        raise ValueError(f"motion_masks takes (T, 134, 3) keypoints, got {kp.shape}")
    masks = {}
    for name, joints in MASK_REGIONS.items():
        boxes = expand_boxes(region_boxes(kp, joints, config.threshold), config.margin, size)
        masks[name] = box_masks(boxes, size)
    return MotionMasks(**masks)


# ----- stage-2 preprocessing ---------------------------------------------------------------
def _resize(frames: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """Area-averaged resize of ``(T, H, W)`` float32 frames to ``(h, w)``."""
    dsize = (size_hw[1], size_hw[0])
    return np.stack([cv2.resize(f, dsize, interpolation=cv2.INTER_AREA) for f in frames]).reshape(len(frames), *size_hw)


def minmax_per_frame(frames: np.ndarray) -> np.ndarray:
    """Each frame mapped to [0, 1] by its own min and max; a constant frame becomes 0 (if 0) or 1."""
    lo = frames.min(axis=(1, 2), keepdims=True)
    hi = frames.max(axis=(1, 2), keepdims=True)
    span = hi - lo
    stretched = (frames - lo) / np.where(span > 0, span, 1.0)
    constant = np.broadcast_to((hi > 0).astype(frames.dtype), frames.shape)
    return np.where(span > 0, stretched, constant).astype(np.float32)


def soft_mask(mask: np.ndarray, kernel: int, work_size: tuple[int, int] = (64, 64)) -> np.ndarray:
    """``(T, h, w)`` float32 in [0, 1]: a binary ``(T, H, W)`` mask resized, blurred, min-max normalised."""
    small = _resize(np.asarray(mask, dtype=np.float32), work_size)
    blurred = np.stack([cv2.GaussianBlur(f, (kernel, kernel), 0) for f in small])
    return minmax_per_frame(blurred.reshape(small.shape))


def to_levels(soft: np.ndarray, levels: tuple[tuple[int, int], ...]) -> list[np.ndarray]:
    """``soft`` ``(T, h, w)`` resized to each ``(h, w)`` level."""
    return [_resize(soft, level) for level in levels]


@dataclass(frozen=True)
class Stage2Masks:
    """Soft masks for MM-HAA, one ``(T, h, w)`` float32 array per UNet level."""

    face_hands: list[np.ndarray]
    lips: list[np.ndarray]
    background: list[np.ndarray]


def stage2_masks(masks: MotionMasks, config: MaskConfig = MaskConfig()) -> Stage2Masks:
    """Blurred, normalised masks per level: ``M_fh``, ``M_lip`` and ``M_bg = 1 - M_fh``."""
    fh = soft_mask(masks.face_hands, config.blur_face, config.work_size)
    lips = soft_mask(masks.lips, config.blur_lips, config.work_size)
    return Stage2Masks(to_levels(fh, config.levels), to_levels(lips, config.levels), to_levels(1.0 - fh, config.levels))


# ----- mask videos -------------------------------------------------------------------------
def mask_frames(mask: np.ndarray) -> np.ndarray:
    """``(T, H, W, 3)`` uint8 frames, 255 inside the mask and 0 outside."""
    grey = np.asarray(mask, dtype=bool).astype(np.uint8) * 255
    return np.repeat(grey[..., None], 3, axis=-1)


def write_mask_video(path: str | Path, mask: np.ndarray, fps: int = FPS) -> Path:
    """Write a mask as an H.264 mp4 (lossy: threshold at 128 when reading it back)."""
    return write_video(path, mask_frames(mask), fps=fps)
