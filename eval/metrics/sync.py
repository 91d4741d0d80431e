"""Lip sync: Sync-C, Sync-D and the AV offset, the maths of syncnet-python's ``SyncNetInstance.evaluate``.

For each 5-frame video window ``i`` and each audio offset ``k`` in ``-vshift..vshift``, the distance
between the window's lip embedding and the audio embedding of window ``i + k`` (zero vectors past
either end: ``calc_pdist``'s padding), with ``torch.nn.functional.pairwise_distance`` (its eps).
Per clip: the mean distance per offset over windows; Sync-D = its minimum, Sync-C = median - minimum,
offset = ``vshift - argmin``. Over clips: plain means. Clips without a usable face are counted
(``n_no_face``) and never silently dropped. The ground truth's own scores (``side="gt"``: ``sync_c_gt``,
...) are the reference a prediction's Sync-C is read against.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from eval.metrics.base import Direction, Metric, clip_mean

VSHIFT = 15


def offset_distances(video: torch.Tensor, audio: torch.Tensor, vshift: int = VSHIFT) -> torch.Tensor:
    """``(n, 2 vshift + 1)`` distances between ``video[i]`` and ``audio[i + k]``, ``k = -vshift..vshift``."""
    if video.shape != audio.shape or video.ndim != 2:
        raise ValueError(f"sync: video {tuple(video.shape)} and audio {tuple(audio.shape)} embeddings differ")
    padded = F.pad(audio, (0, 0, vshift, vshift))
    shifted = padded.unfold(0, 2 * vshift + 1, 1).transpose(1, 2)  # (n, offsets, d)
    return F.pairwise_distance(video[:, None, :], shifted)


@dataclass(frozen=True)
class SyncScores:
    """One clip's result."""

    confidence: float  # Sync-C
    min_dist: float  # Sync-D
    offset: int  # AV offset in frames


def sync_scores(mean_dist: np.ndarray, vshift: int = VSHIFT) -> SyncScores:
    """Sync-C, Sync-D and offset from the mean distance per offset."""
    best = int(np.argmin(mean_dist))
    return SyncScores(float(np.median(mean_dist) - mean_dist[best]), float(mean_dist[best]), vshift - best)


class SyncMetric(Metric):
    """``update(clip_id, dists)`` with a clip's ``offset_distances``, or ``None`` when it has no usable face.

    ``side="pred"`` scores the prediction (``sync_c``, ``sync_d``, ``av_offset``); ``side="gt"`` the ground
    truth's own video (``sync_c_gt``, ...: a reference, not ranked)."""

    def __init__(self, vshift: int = VSHIFT, side: str = "pred") -> None:
        super().__init__("sync", vshift=vshift, side=side)
        self.vshift = vshift
        self.suffix = "" if side == "pred" else f"_{side}"
        self.add_state("clip", np.empty(0, dtype=str), "cat")
        self.add_state("mean_dist", np.empty((0, 2 * vshift + 1)), "cat")
        self.add_state("no_face", np.empty(0, dtype=str), "cat")

    @property
    def directions(self) -> dict[str, Direction]:
        ranked = {"sync_c": "higher", "sync_d": "lower", "av_offset": "none"}
        return {k + self.suffix: d if not self.suffix else "none" for k, d in ranked.items()}

    def update(self, clip_id: str, dists: np.ndarray | torch.Tensor | None) -> None:
        if dists is None:
            self._add("no_face", [clip_id])
            return
        dists = dists.detach().cpu().numpy() if isinstance(dists, torch.Tensor) else np.asarray(dists)
        if dists.ndim != 2 or dists.shape[1] != 2 * self.vshift + 1 or not len(dists):
            raise ValueError(f"sync: expected distances of shape (n >= 1, {2 * self.vshift + 1}), got {dists.shape}")
        self._add("clip", [clip_id])
        self._add("mean_dist", dists.astype(np.float64).mean(axis=0)[None])

    def clip_scores(self) -> dict[str, SyncScores]:
        """Each scored clip's result, by clip id (sorted)."""
        clips, means = self._get("clip"), self._get("mean_dist")
        if len(np.unique(clips)) != len(clips):
            raise ValueError("sync: a clip was scored twice (overlapping shards?)")
        return {str(clips[i]): sync_scores(means[i], self.vshift) for i in np.argsort(clips, kind="stable")}

    def compute(self) -> dict[str, float]:
        scores = list(self.clip_scores().values())
        if not scores:
            raise ValueError(f"sync: no clip had a usable face ({len(self._get('no_face'))} without)")
        return {
            "sync_c" + self.suffix: math.fsum(s.confidence for s in scores) / len(scores),
            "sync_d" + self.suffix: math.fsum(s.min_dist for s in scores) / len(scores),
            "av_offset" + self.suffix: math.fsum(s.offset for s in scores) / len(scores),
        }

    def clip_ids(self) -> list[str]:
        return list(self.clip_scores())

    def resample(self, counts: np.ndarray) -> dict[str, np.ndarray]:
        scores = self.clip_scores().values()
        means = clip_mean(counts, [(s.confidence, s.min_dist, s.offset) for s in scores] or np.empty((0, 3)))
        return dict(zip(self.directions, means.T))  # sync_c, sync_d, av_offset, as compute()

    def diagnostics(self) -> dict[str, int]:
        return {"n_clips": len(self._get("clip")), "n_no_face": len(self._get("no_face"))}
