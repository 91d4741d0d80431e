"""Training windows for MM-Diffusion from a split root, at the model's frame rate and sizes.

Each clip (25 fps) is resampled to the model's ``fps`` by nearest frame in time; its consecutive
``frames``-frame windows pair with the ``audio_samples`` of raw 16 kHz waveform they span. Frames
are area-downsampled to the base size (the coupled model) and kept at ``sr.out_size`` for the
upsampler, whose low-res inputs are the same area downsampling.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from mmgt.data.layout import Split
from mmgt.errors import DataError

from baselines.mm_diffusion.config import MMDiffusionConfig


def retime(n_out: int, fps_in: float, fps_out: float, n_in: int) -> np.ndarray:
    """Indices of the ``fps_in`` frames nearest in time to each of ``n_out`` frames at ``fps_out``."""
    return np.minimum(np.floor(np.arange(n_out) * fps_in / fps_out + 0.5).astype(int), n_in - 1)


def to_unit(frames: np.ndarray | Tensor, size: int) -> Tensor:
    """``(N, H, W, 3)`` uint8 -> ``(N, 3, size, size)`` float in [-1, 1] (area resampling)."""
    x = torch.as_tensor(frames).permute(0, 3, 1, 2).float() / 127.5 - 1
    return x if x.shape[-1] == size else F.interpolate(x, size=(size, size), mode="area")


def to_uint8(x: Tensor) -> np.ndarray:
    """``(N, 3, H, W)`` in [-1, 1] -> ``(N, H, W, 3)`` uint8."""
    return ((x.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy()


@dataclass
class Windows:
    video: Tensor  # (N, F, 3, size, size) in [-1, 1]
    audio: Tensor  # (N, 1, L) raw waveform
    high: Tensor  # (M, 3, out, out) uint8 frames at the model rate, for the upsampler

    def sr_pairs(self, idx: Tensor, cfg: MMDiffusionConfig) -> tuple[Tensor, Tensor]:
        high = self.high[idx].float() / 127.5 - 1
        return high, F.interpolate(high, size=(cfg.sr.in_size,) * 2, mode="area")


def load_windows(root: str, cfg: MMDiffusionConfig, split: str = "train") -> Windows:
    m = cfg.model
    clips = Split(root).clips(split)
    if not clips:
        raise DataError(root, f"split {split!r} has no clips")
    videos, audios, highs = [], [], []
    for clip in clips:
        r = clip.record
        n_native = int(r.n_frames / r.fps * m.fps + 1e-6)
        if n_native < m.frames:
            raise DataError(clip.dir, f"clip lasts {r.n_frames / r.fps:.2f} s, MM-Diffusion trains on {m.duration:.2f} s windows")
        frames = clip.frames()[retime(n_native, r.fps, m.fps, r.n_frames)]
        wav = clip.audio(m.sample_rate)
        high = to_unit(frames, cfg.sr.out_size)
        low = F.interpolate(high, size=(m.size, m.size), mode="area")
        highs.append(((high + 1) * 127.5).round().byte())
        for w in range(n_native // m.frames):
            start = round(w * m.frames / m.fps * m.sample_rate)
            seg = np.zeros(m.audio_samples, np.float32)
            piece = wav[start : start + m.audio_samples]
            seg[: len(piece)] = piece
            videos.append(low[w * m.frames : (w + 1) * m.frames])
            audios.append(torch.from_numpy(seg)[None])
    return Windows(torch.stack(videos), torch.stack(audios), torch.cat(highs))
