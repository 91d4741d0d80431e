"""Per-speaker backdrops: smooth textures (they keep the H.264 encoding cheap)."""

from __future__ import annotations

import cv2
import numpy as np

from mmgt.data.synth.speakers import Look


def backdrop(look: Look, size: tuple[int, int], seed: int) -> np.ndarray:
    """``(h, w, 3)`` uint8 RGB backdrop of a ``(w, h)`` canvas in the speaker's pattern."""
    width, height = size
    y, x = np.mgrid[0:height, 0:width].astype(np.float64) / height
    if look.pattern == "gradient":
        mix = y
    elif look.pattern == "stripes":
        mix = 0.3 * y + 0.35 * (1.0 + np.sin(2 * np.pi * x * 5.0))
    elif look.pattern == "tiles":
        cells = (np.floor(x * 6) + np.floor(y * 6)) % 2
        mix = 0.25 * y + 0.5 * cv2.GaussianBlur(cells, (0, 0), height / 60)
    elif look.pattern == "clouds":
        coarse = np.random.default_rng(seed).random((5, max(2, round(5 * width / height))))
        mix = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    else:
        raise ValueError(f"unknown backdrop pattern {look.pattern!r}")
    mix = np.clip(mix, 0.0, 1.0)[..., None]
    c0, c1 = (np.asarray(c, np.float64) for c in look.background)
    return np.round(c0 * (1.0 - mix) + c1 * mix).astype(np.uint8)
