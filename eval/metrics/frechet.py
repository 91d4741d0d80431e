"""Frechet distance between Gaussians fitted to features: FID (Inception pool3), FVD (I3D), FGD.

:func:`frechet_distance` is pytorch-fid's ``calculate_frechet_distance`` (scipy ``sqrtm``, the same
eps fallback for a singular product, the same check on the imaginary part). The Gaussians come
from :class:`GaussianStats`: float64 sums that shards add exactly, with the unbiased covariance.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import linalg

from eval.metrics.base import Direction, Metric
from eval.metrics.features import FeatureBatch, feature_rows


class FewSamplesWarning(UserWarning):
    """Fewer samples than feature dimensions: the covariance is singular and the distance biased."""


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray, eps: float = 1e-6
) -> float:
    """``|mu1 - mu2|^2 + Tr(S1 + S2 - 2 sqrt(S1 S2))``, exactly as pytorch-fid computes it."""
    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise ValueError(f"mean shapes {mu1.shape}, {mu2.shape} / covariance shapes {sigma1.shape}, {sigma2.shape} differ")
    diff = mu1 - mu2
    with warnings.catch_warnings():  # pytorch-fid calls sqrtm with disp=False: no warning, checked below
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(sigma1.dot(sigma2))
        if not np.isfinite(covmean).all():
            warnings.warn(f"singular covariance product; adding {eps} to the diagonal of both", RuntimeWarning)
            offset = np.eye(sigma1.shape[0]) * eps
            covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"Imaginary component {np.max(np.abs(covmean.imag))} in sqrtm of the covariance product")
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


@dataclass(frozen=True)
class GaussianStats:
    """Sufficient statistics of a feature set: count, sum and sum of outer products (float64)."""

    n: int
    total: np.ndarray  # (dim,)
    outer: np.ndarray  # (dim, dim)

    @classmethod
    def empty(cls, dim: int) -> GaussianStats:
        return cls(0, np.zeros(dim), np.zeros((dim, dim)))

    @classmethod
    def of(cls, rows: np.ndarray) -> GaussianStats:
        """Statistics of ``(n, dim)`` float64 rows."""
        return cls(len(rows), rows.sum(axis=0), rows.T @ rows)

    def __add__(self, other: GaussianStats) -> GaussianStats:
        """The statistics of both sets together."""
        return GaussianStats(self.n + other.n, self.total + other.total, self.outer + other.outer)

    def mean(self) -> np.ndarray:
        return self.total / self.n

    def cov(self) -> np.ndarray:
        """Unbiased covariance (divides by ``n - 1``, as ``np.cov``)."""
        if self.n < 2:
            raise ValueError(f"covariance needs at least 2 samples, got {self.n}")
        return (self.outer - np.outer(self.total, self.total) / self.n) / (self.n - 1)


class FrechetMetric(Metric):
    """Frechet distance between the Gaussians of predicted and ground-truth features.

    ``update(pred=..., gt=...)`` takes ``(n, dim)`` feature rows (numpy or torch), either side
    alone or both. FID: Inception pool3 of every frame (dim 2048); FVD: I3D logits of each
    16-frame window (dim 400); FGD: gesture-autoencoder latents.
    """

    SIDES = ("pred", "gt")

    def __init__(self, name: str = "fid", dim: int = 2048, eps: float = 1e-6) -> None:
        super().__init__(name, dim=dim, eps=eps)
        self.dim, self.eps = dim, eps
        for side in self.SIDES:
            self.add_state(f"{side}.n", np.zeros((), np.int64), "sum")
            self.add_state(f"{side}.total", np.zeros(dim), "sum")
            self.add_state(f"{side}.outer", np.zeros((dim, dim)), "sum")

    @property
    def directions(self) -> dict[str, Direction]:
        return {self.name: "lower"}

    def update(self, pred: FeatureBatch | None = None, gt: FeatureBatch | None = None) -> None:
        for side, features in zip(self.SIDES, (pred, gt)):
            if features is not None:
                stats = GaussianStats.of(feature_rows(features, self.dim, f"{self.name} {side}"))
                self._add(f"{side}.n", stats.n)
                self._add(f"{side}.total", stats.total)
                self._add(f"{side}.outer", stats.outer)

    def stats(self, side: str) -> GaussianStats:
        """The accumulated statistics of ``"pred"`` or ``"gt"``."""
        return GaussianStats(int(self._get(f"{side}.n")), self._get(f"{side}.total"), self._get(f"{side}.outer"))

    def diagnostics(self) -> dict[str, int]:
        return {f"n_{side}": self.stats(side).n for side in self.SIDES}

    def compute(self) -> dict[str, float]:
        pred, gt = (self.stats(side) for side in self.SIDES)
        for side, n in self.diagnostics().items():
            if n < self.dim:
                warnings.warn(f"{self.name}: {side} = {n} < dim {self.dim}; the distance is biased", FewSamplesWarning)
        return {self.name: frechet_distance(pred.mean(), pred.cov(), gt.mean(), gt.cov(), self.eps)}
