"""Smooth motion primitives: critically damped springs, filtered noise and impulse responses."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d


def spring(target: np.ndarray, omega: float, fps: float, substeps: int = 4) -> np.ndarray:
    """Follow ``target`` ``(T, ...)`` with a critically damped spring of natural frequency ``omega``.

    The spring starts at rest on ``target[0]``; larger ``omega`` (rad/s) follows more tightly.
    """
    target = np.asarray(target, dtype=np.float64)
    x = target[0].copy()
    v = np.zeros_like(x)
    dt = 1.0 / (fps * substeps)
    out = np.empty_like(target)
    for t in range(len(target)):
        for _ in range(substeps):
            v += (omega * omega * (target[t] - x) - 2.0 * omega * v) * dt
            x += v * dt
        out[t] = x
    return out


def smooth_noise(rng: np.random.Generator, n: int, sigma: float, dims: tuple[int, ...] = ()) -> np.ndarray:
    """Gaussian-filtered white noise ``(n, *dims)`` with unit standard deviation; ``sigma`` in samples."""
    pad = int(4 * sigma) + 1
    white = rng.standard_normal((n + 2 * pad, *dims))
    smooth = gaussian_filter1d(white, sigma, axis=0, mode="constant")[pad : pad + n]
    return smooth * np.sqrt(2.0 * np.sqrt(np.pi) * sigma)  # the filter's noise gain is 1/sqrt(2 sqrt(pi) sigma)


def pulse_response(events: np.ndarray, tau: float) -> np.ndarray:
    """Convolve an event train ``(T,)`` with ``(t/tau) exp(1 - t/tau)``: a smooth bump peaking 1 at ``tau``."""
    t = np.arange(int(np.ceil(8 * tau)) + 1, dtype=np.float64)
    kernel = t / tau * np.exp(1.0 - t / tau)
    return np.convolve(events, kernel)[: len(events)]
