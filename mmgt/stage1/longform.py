"""Audio of any length from a fixed-horizon window sampler (model space, ``(T, 402)`` poses).

- ``chained`` (SMGA): windows overlapping by one frame; window i is conditioned on the last
  generated frame of window i-1 (frame ``horizon - 1``; the release uses 59 and drops the first
  window, both bugs) and starts at that frame's audio. A model reproduces its reference in its
  frame 0 (training conditions every window on its own frame 0), so that frame is dropped: no
  frame is held or repeated at a seam. What remains of a jump at a seam beyond the local velocity
  is spread over ``seam_frames`` on each side.
- ``overlapping`` (EDGE): half-overlapping windows denoised together; after every DDIM step the
  first half of window i+1 is overwritten with the second half of window i; the final halves are
  joined with a linear crossfade.

The audio is padded to whole windows by repeating its last frame, and the output trimmed to ``T``,
so any length works, including less than one window.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor

# (audio (N, H, A), reference poses (N, 402), after_step or None) -> x0 (N, H, 402)
WindowSampler = Callable[[Tensor, Tensor, Callable[[Tensor], Tensor] | None], Tensor]


def pad_to(audio: Tensor, length: int) -> Tensor:
    """Pad ``(T, A)`` to ``length`` frames by repeating the last frame."""
    if audio.shape[0] >= length:
        return audio[:length]
    return torch.cat([audio, audio[-1:].expand(length - audio.shape[0], -1)])


def smooth_seams(x: Tensor, seams: list[int], k: int) -> Tensor:
    """Remove the excess jump at each seam ``s`` (between frames s-1 and s), tapering over ``k`` frames.

    The excess is the seam step minus the mean of the two neighbouring steps; half of it is added
    before the seam and half removed after it, with linear weights reaching zero ``k`` frames away,
    so the seam step becomes the local velocity and frames farther than ``k`` are untouched.
    """
    x = x.clone()
    for s in seams:
        if k <= 0 or s < 2 or s + 1 >= x.shape[0]:
            continue
        excess = (x[s] - x[s - 1]) - 0.5 * ((x[s - 1] - x[s - 2]) + (x[s + 1] - x[s]))
        for j in range(k):
            w = 0.5 * (1 - j / k)
            if s - 1 - j >= 0:
                x[s - 1 - j] += w * excess
            if s + j < x.shape[0]:
                x[s + j] -= w * excess
    return x


def chained(sample: WindowSampler, audio: Tensor, ref: Tensor, horizon: int, seam_frames: int) -> Tensor:
    """Windows overlapping by one frame, each conditioned on the previous window's last frame.

    Window i covers frames ``i * (horizon - 1)`` to ``i * (horizon - 1) + horizon - 1``; its frame 0
    (the model's copy of its reference, the previous window's last frame) is dropped.
    """
    step = horizon - 1
    n = 1 + math.ceil(max(audio.shape[0] - horizon, 0) / step)
    padded = pad_to(audio, (n - 1) * step + horizon)
    cond, parts = ref, []
    for i in range(n):
        window = sample(padded[None, i * step : i * step + horizon], cond[None], None)[0]
        parts.append(window if i == 0 else window[1:])
        cond = window[-1]
    out = smooth_seams(torch.cat(parts), [i * step + 1 for i in range(1, n)], seam_frames)
    return out[: audio.shape[0]]


def overlapping(sample: WindowSampler, audio: Tensor, ref: Tensor, horizon: int) -> Tensor:
    """EDGE long-form: half-overlapping windows sharing their overlaps during denoising."""
    half = horizon // 2
    n = max(1, math.ceil(max(audio.shape[0] - horizon, 0) / half) + 1)
    padded = pad_to(audio, (n - 1) * half + horizon)
    windows_audio = torch.stack([padded[i * half : i * half + horizon] for i in range(n)])

    def share_overlaps(x: Tensor) -> Tensor:
        x = x.clone()
        x[1:, :half] = x[:-1, half:horizon]
        return x

    windows = sample(windows_audio, ref[None].expand(n, -1), share_overlaps)
    return crossfade(windows, half)[: audio.shape[0]]


def crossfade(windows: Tensor, half: int) -> Tensor:
    """Join ``(N, H, D)`` windows overlapping by ``half`` frames with linear weights across each overlap."""
    out = [windows[0, :half]]
    fade = torch.linspace(0, 1, half + 2, dtype=windows.dtype)[1:-1, None]
    for i in range(1, windows.shape[0]):
        out.append((1 - fade) * windows[i - 1, half:] + fade * windows[i, :half])
    out.append(windows[-1, half:])
    return torch.cat(out)
