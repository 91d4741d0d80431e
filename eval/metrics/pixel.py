"""PSNR and SSIM per frame, on RGB in [0, 1] with data range 1, in float64 torch.

SSIM equals ``skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=1.0, channel_axis=-1)``: an 11-tap Gaussian window
(sigma 1.5, truncate 3.5), K1 0.01, K2 0.03, population covariance, the 5-pixel border excluded,
per channel then the mean. Only the valid region is filtered: skimage's reflected border lies
entirely in the excluded band.
"""

from __future__ import annotations

import numpy as np
import torch

from eval.metrics.frames import PerFrameMetric, row_means

SIGMA, TRUNCATE, K1, K2 = 1.5, 3.5, 0.01, 0.03
RADIUS = int(TRUNCATE * SIGMA + 0.5)  # 5, as scipy.ndimage: an 11-tap window


def gaussian_taps() -> list[float]:
    """scipy.ndimage's normalised 1-D Gaussian weights for SIGMA and RADIUS."""
    x = np.arange(-RADIUS, RADIUS + 1)
    phi = np.exp(-0.5 / (SIGMA * SIGMA) * x**2)
    return (phi / phi.sum()).tolist()


TAPS = gaussian_taps()


def _filter_valid(x: torch.Tensor, dim: int) -> torch.Tensor:
    """Correlate ``x`` with the Gaussian along ``dim``, keeping only positions the window fits."""
    size = x.shape[dim] - 2 * RADIUS
    out = x.narrow(dim, 0, size) * TAPS[0]
    for k in range(1, len(TAPS)):
        out.add_(x.narrow(dim, k, size), alpha=TAPS[k])
    return out


def ssim_frames(pred: torch.Tensor, gt: torch.Tensor) -> np.ndarray:
    """SSIM of each pair of ``(n, 3, H, W)`` frames in [0, 1] (float64), as skimage computes it."""
    if min(pred.shape[-2:]) < 2 * RADIUS + 1:
        raise ValueError(f"SSIM needs frames of at least {2 * RADIUS + 1} pixels a side, got {tuple(pred.shape[-2:])}")
    moments = torch.stack([pred, gt, pred * pred, gt * gt, pred * gt])
    ux, uy, uxx, uyy, uxy = _filter_valid(_filter_valid(moments, -2), -1)
    c1, c2 = K1**2, K2**2
    vx, vy, vxy = uxx - ux * ux, uyy - uy * uy, uxy - ux * uy
    ssim_map = (2 * ux * uy + c1) * (2 * vxy + c2) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))
    per_channel = row_means(ssim_map.flatten(0, 1)).reshape(ssim_map.shape[:2])
    return per_channel.mean(axis=1)


def psnr_frames(pred: torch.Tensor, gt: torch.Tensor, cap: float) -> np.ndarray:
    """``10 log10(1 / MSE)`` of each frame pair in [0, 1]; identical frames (and any above ``cap``) give ``cap``."""
    mse = row_means((pred - gt).square_())
    with np.errstate(divide="ignore"):
        return np.minimum(10.0 * np.log10(1.0 / mse), cap)


class PSNRMetric(PerFrameMetric):
    """PSNR (dB): per frame, mean over frames, then over clips; frames at the cap are counted."""

    direction = "higher"

    def __init__(self, cap: float = 100.0, device: torch.device | str = "cpu", chunk: int = 16) -> None:
        super().__init__("psnr", device, chunk, cap=cap)
        self.cap = cap

    def frame_scores(self, pred: torch.Tensor, gt: torch.Tensor) -> np.ndarray:
        return psnr_frames(pred, gt, self.cap)

    def diagnostics(self) -> dict[str, int]:
        return super().diagnostics() | {"n_capped": int((self._get("score") >= self.cap).sum())}


class SSIMMetric(PerFrameMetric):
    """SSIM (Wang et al. 2004, skimage settings above): per frame, mean over frames, then clips."""

    direction = "higher"

    def __init__(self, device: torch.device | str = "cpu", chunk: int | None = None) -> None:
        cpu = torch.device(device).type == "cpu"
        super().__init__("ssim", device, chunk or (1 if cpu else 16))  # one frame at a time stays in CPU cache

    def frame_scores(self, pred: torch.Tensor, gt: torch.Tensor) -> np.ndarray:
        return ssim_frames(pred, gt)
