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


def _ssim_map(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """skimage's SSIM map over the valid region of ``(planes, H, W)`` float64 images (same operation order)."""
    ux, uy, uxx, uyy, uxy = _filter_valid(_filter_valid(torch.stack([x, y, x * x, y * y, x * y]), -2), -1)
    c1, c2 = K1**2, K2**2
    mean_xy = ux * uy
    ux2, uy2 = ux.square_(), uy.square_()  # in place: the means are not needed any more
    cov_xy = uxy.sub_(mean_xy)
    var_sum = uxx.sub_(ux2).add_(uyy.sub_(uy2))
    numerator = (2 * mean_xy + c1).mul_(2 * cov_xy + c2)
    return numerator.div_((ux2 + uy2 + c1).mul_(var_sum + c2))


def ssim_frames(pred: torch.Tensor, gt: torch.Tensor, planes_per_pass: int | None = None) -> np.ndarray:
    """SSIM of each pair of ``(n, 3, H, W)`` frames in [0, 1] (float64), as skimage computes it.

    Colour planes are processed ``planes_per_pass`` at a time (all by default); one at a time keeps
    the working set in a CPU core's cache.
    """
    n, channels, height, width = pred.shape
    if min(height, width) < 2 * RADIUS + 1:
        raise ValueError(f"SSIM needs frames of at least {2 * RADIUS + 1} pixels a side, got {(height, width)}")
    x, y = pred.reshape(n * channels, height, width), gt.reshape(n * channels, height, width)
    step = planes_per_pass or n * channels
    per_plane = [row_means(_ssim_map(x[i : i + step], y[i : i + step])) for i in range(0, n * channels, step)]
    return np.concatenate(per_plane).reshape(n, channels).mean(axis=1)


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

    def __init__(self, device: torch.device | str = "cpu", chunk: int = 16) -> None:
        super().__init__("ssim", device, chunk)
        self.planes_per_pass = 1 if self.device.type == "cpu" else None

    def frame_scores(self, pred: torch.Tensor, gt: torch.Tensor) -> np.ndarray:
        return ssim_frames(pred, gt, self.planes_per_pass)
