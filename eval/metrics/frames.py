"""Paired per-frame metrics (PSNR, SSIM, LPIPS): mean over the frames of a clip, then over clips.

The state is one record per frame (clip id, score); shards concatenate their records. A clip's
mean and the mean over clips are ``math.fsum`` sums (exactly rounded, so order-free), taken over
clips in sorted id order. A clip may arrive in several batches or shards.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Sequence

import numpy as np
import torch

from eval.metrics.base import Direction, Metric, clip_mean

FrameBatch = np.ndarray | torch.Tensor  # (n, H, W, 3) RGB: uint8 0..255 or float in [0, 1]
ClipIds = str | Sequence[str]


def unit_frames(frames: FrameBatch, dtype: torch.dtype, device: torch.device | str, what: str) -> torch.Tensor:
    """``(n, H, W, 3)`` uint8 or [0, 1] float frames as ``(n, 3, H, W)`` in [0, 1]."""
    tensor = torch.from_numpy(np.ascontiguousarray(frames)) if isinstance(frames, np.ndarray) else frames
    if tensor.ndim != 4 or tensor.shape[-1] != 3:
        raise ValueError(f"{what}: expected RGB frames of shape (n, H, W, 3), got {tuple(tensor.shape)}")
    if tensor.dtype != torch.uint8 and not tensor.is_floating_point():
        raise ValueError(f"{what}: frames must be uint8 or float, got {tensor.dtype}")
    tensor = tensor.to(device).permute(0, 3, 1, 2).contiguous()  # move and reorder before widening
    if tensor.dtype == torch.uint8:
        return tensor.to(dtype) / 255
    tensor = tensor.to(dtype)
    if tensor.numel() and not (tensor.min() >= 0 and tensor.max() <= 1):  # also catches NaN
        raise ValueError(f"{what}: float frames must lie in [0, 1], got [{tensor.min():g}, {tensor.max():g}]")
    return tensor


def row_means(values: torch.Tensor) -> np.ndarray:
    """Mean of each frame's values, with numpy's per-row summation (identical for any batch size)."""
    return values.reshape(len(values), -1).cpu().numpy().mean(axis=1)


class PerFrameMetric(Metric):
    """``update(pred, gt, clip_ids)``: score each (pred, gt) frame pair and file it under its clip."""

    direction: Direction
    dtype: torch.dtype = torch.float64

    def __init__(self, name: str, device: torch.device | str = "cpu", chunk: int = 16, **config: float) -> None:
        super().__init__(name, **config)
        self.device, self.chunk = torch.device(device), chunk
        self.add_state("clip", np.empty(0, dtype=str), "cat")
        self.add_state("score", np.empty(0), "cat")

    @property
    def directions(self) -> dict[str, Direction]:
        return {self.name: self.direction}

    @abstractmethod
    def frame_scores(self, pred: torch.Tensor, gt: torch.Tensor) -> np.ndarray:
        """float64 score of each pair of ``(n, 3, H, W)`` frames in [0, 1]."""

    def scores(self, pred: FrameBatch, gt: FrameBatch) -> np.ndarray:
        """float64 score of each ``(n, H, W, 3)`` frame pair, without recording them."""
        if tuple(pred.shape) != tuple(gt.shape):
            raise ValueError(f"{self.name}: pred frames {tuple(pred.shape)} and gt frames {tuple(gt.shape)} differ")
        scores = []
        with torch.inference_mode():
            for start in range(0, len(pred), self.chunk):
                part = slice(start, start + self.chunk)
                p = unit_frames(pred[part], self.dtype, self.device, f"{self.name} pred")
                g = unit_frames(gt[part], self.dtype, self.device, f"{self.name} gt")
                scores.append(self.frame_scores(p, g))
        return np.concatenate([np.empty(0), *scores])

    def add_scores(self, scores: np.ndarray, clip_ids: ClipIds) -> None:
        """Record per-frame scores computed earlier (e.g. cached) under their clip ids."""
        clips = np.full(len(scores), clip_ids) if isinstance(clip_ids, str) else np.asarray(clip_ids, dtype=str)
        if clips.shape != (len(scores),):
            raise ValueError(f"{self.name}: {clips.size} clip ids for {len(scores)} frames")
        self._add("score", np.asarray(scores, dtype=np.float64))
        self._add("clip", clips)

    def update(self, pred: FrameBatch, gt: FrameBatch, clip_ids: ClipIds) -> None:
        """``pred`` and ``gt``: ``(n, H, W, 3)`` frames; ``clip_ids``: one id for all, or one per frame."""
        self.add_scores(self.scores(pred, gt), clip_ids)

    def clip_means(self) -> dict[str, float]:
        """Each clip's mean score over its frames, by clip id (sorted)."""
        ids, index = np.unique(self._get("clip"), return_inverse=True)
        scores = self._get("score")[np.argsort(index, kind="stable")]
        groups = np.split(scores, np.cumsum(np.bincount(index, minlength=len(ids)))[:-1])
        return {str(clip): math.fsum(group) / len(group) for clip, group in zip(ids, groups)}

    def compute(self) -> dict[str, float]:
        means = self.clip_means()
        if not means:
            raise ValueError(f"{self.name}: no frames were given")
        return {self.name: math.fsum(means[clip] for clip in sorted(means)) / len(means)}

    def clip_ids(self) -> list[str]:
        return sorted(self.clip_means())

    def resample(self, counts: np.ndarray) -> dict[str, np.ndarray]:
        means = self.clip_means()
        return {self.name: clip_mean(counts, [means[clip] for clip in sorted(means)])}

    def diagnostics(self) -> dict[str, int]:
        return {"n_clips": len(np.unique(self._get("clip"))), "n_frames": len(self._get("score"))}
