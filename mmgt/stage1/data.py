"""Stage-1 training pairs from a split root: model-space poses, reference pose and audio features.

Every clip contributes its non-overlapping ``horizon``-frame windows. Poses are mapped to model space
with the clip's ``Normalizer`` (x, y to [-1, 1], score kept); the reference pose of a window is its
first frame (``ref.png`` is frame 0 of the clip), as in the release.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import TensorDataset

from mmgt import keypoints as K
from mmgt.data.layout import Clip, Split
from mmgt.errors import DataError
from mmgt.features.audio import AudioFeaturizer


@dataclass
class PoseAudioWindows:
    """Stacked windows: ``poses`` (N, T, 402), ``audio`` (N, T, A), and the clip of each window."""

    poses: np.ndarray
    audio: np.ndarray
    clip_ids: list[str]

    def dataset(self) -> TensorDataset:
        poses = torch.from_numpy(self.poses)
        return TensorDataset(poses, poses[:, 0].clone(), torch.from_numpy(self.audio))


def clip_windows(clip: Clip, featurizer: AudioFeaturizer, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """``(W, horizon, 402)`` model-space poses and ``(W, horizon, A)`` features of one clip."""
    r = clip.record
    if r.n_frames < horizon:
        raise DataError(clip.dir, f"clip has {r.n_frames} frames, stage 1 trains on {horizon}-frame windows")
    kp = K.Normalizer(r.width, r.height).to_model(clip.keypoints()).reshape(r.n_frames, K.NUM_VALUES)
    feats = featurizer(clip.audio_path, r.n_frames).reshape(r.n_frames, -1)
    starts = range(0, r.n_frames - horizon + 1, horizon)
    return np.stack([kp[s : s + horizon] for s in starts]), np.stack([feats[s : s + horizon] for s in starts])


def load_windows(root: str, split: str, featurizer: AudioFeaturizer, horizon: int) -> PoseAudioWindows:
    clips = Split(root).clips(split)
    if not clips:
        raise DataError(root, f"split {split!r} has no clips")
    poses, audio, ids = [], [], []
    for clip in clips:
        p, a = clip_windows(clip, featurizer, horizon)
        poses.append(p)
        audio.append(a)
        ids += [clip.clip_id] * len(p)
    return PoseAudioWindows(np.concatenate(poses).astype(np.float32), np.concatenate(audio).astype(np.float32), ids)
