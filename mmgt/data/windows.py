"""Cutting long intervals into fixed-length clip windows (paper: 3.2 s windows, 0.5 s step)."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class WindowSpec:
    """Window length and step in seconds on a ``fps`` timeline."""

    length_s: float = 3.2
    step_s: float = 0.5
    fps: int = 25

    @property
    def length(self) -> int:
        return round(self.length_s * self.fps)



def windows(n_frames: int, spec: WindowSpec = WindowSpec()) -> list[tuple[int, int]]:
    """Frame ranges ``[start, end)`` of every full window inside an interval of ``n_frames``.

    Window k starts at ``floor(k * step_s * fps + 0.5)``, so a 0.5 s step at 25 fps alternates 12
    and 13 frames instead of drifting. Windows start at frame 0 (the release skips the first window:
    a bug we do not copy); a tail shorter than one window is dropped.
    """
    if spec.step_s <= 0 or spec.length <= 0:
        raise ValueError(f"window length and step must be positive, got {spec}")
    out, k = [], 0
    while (start := math.floor(k * spec.step_s * spec.fps + 0.5)) + spec.length <= n_frames:
        out.append((start, start + spec.length))
        k += 1
    return out
