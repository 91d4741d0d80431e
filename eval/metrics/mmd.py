"""KVD: unbiased polynomial-kernel MMD^2 over the full feature sets (the TATS form).

``k(x, y) = (x.y / d + 1)^3``; the within-set terms exclude the diagonal:
``MMD^2 = sum_{i!=j} k(x_i, x_j) / (m(m-1)) + sum_{i!=j} k(y_i, y_j) / (n(n-1)) - 2 sum k(x_i, y_j) / (mn)``.
No subsets, no x1000 scaling. Kernel sums run over fixed blocks of the canonically ordered rows
and are added with ``math.fsum``, so the value does not depend on row order or batch sizes.

The clip bootstrap sums the kernel over each pair of clips once (``clips x clips`` matrices); a
multiset of clips then needs only quadratic forms of its counts.
"""

from __future__ import annotations

import math

import numpy as np

from eval.metrics.base import Direction
from eval.metrics.rows import FeatureRowsMetric

BLOCK = 1024


def _kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    gram = a @ b.T
    gram *= 1.0 / a.shape[1]  # gamma = 1/d, as sklearn's polynomial_kernel and torchmetrics
    gram += 1.0
    return gram**3


def _kernel_sum(a: np.ndarray, b: np.ndarray) -> float:
    """Sum of ``k(a_i, b_j)`` over all pairs."""
    return math.fsum(
        float(_kernel(a[i : i + BLOCK], b[j : j + BLOCK]).sum())
        for i in range(0, len(a), BLOCK)
        for j in range(0, len(b), BLOCK)
    )


def _offdiagonal_kernel_sum(a: np.ndarray) -> float:
    """Sum of ``k(a_i, a_j)`` over ``i != j`` (upper blocks counted twice)."""
    sums = []
    for i in range(0, len(a), BLOCK):
        diagonal = _kernel(a[i : i + BLOCK], a[i : i + BLOCK])
        np.fill_diagonal(diagonal, 0.0)
        sums.append(float(diagonal.sum()))
        sums.extend(2.0 * float(_kernel(a[i : i + BLOCK], a[j : j + BLOCK]).sum()) for j in range(i + BLOCK, len(a), BLOCK))
    return math.fsum(sums)


def polynomial_mmd(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 between the row sets ``x`` (m, d) and ``y`` (n, d), float64."""
    m, n = len(x), len(y)
    if m < 2 or n < 2:
        raise ValueError(f"unbiased MMD needs at least 2 rows per set, got {m} and {n}")
    within_x = _offdiagonal_kernel_sum(x) / (m * (m - 1))
    within_y = _offdiagonal_kernel_sum(y) / (n * (n - 1))
    return within_x + within_y - 2.0 * _kernel_sum(x, y) / (m * n)


def clip_kernel_sums(a: np.ndarray, clips_a: np.ndarray, b: np.ndarray, clips_b: np.ndarray, n: int) -> np.ndarray:
    """``(n, n)``: the sum of ``k(a_i, b_j)`` over the rows of each pair of clips (``clips_*``: each row's clip index)."""
    one_hot = np.eye(n)
    sums = np.zeros((n, n))
    for i in range(0, len(a), BLOCK):
        for j in range(0, len(b), BLOCK):
            block = _kernel(a[i : i + BLOCK], b[j : j + BLOCK])
            sums += one_hot[clips_a[i : i + BLOCK]].T @ block @ one_hot[clips_b[j : j + BLOCK]]
    return sums


def resampled_mmd(x: np.ndarray, clips_x: np.ndarray, y: np.ndarray, clips_y: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """:func:`polynomial_mmd` on ``(B, n)`` multisets of clips; rows of a clip drawn twice are distinct samples
    (their pairs count in the within-set sums, a row with itself does not). NaN under 2 rows a side."""
    n = counts.shape[1]

    def quadratic(a, ca, b, cb):
        return ((counts @ clip_kernel_sums(a, ca, b, cb, n)) * counts).sum(axis=1)

    def within(a, ca):
        """Sum over ordered pairs of distinct samples, and the number of samples."""
        diagonal = ((a * a).sum(axis=1) / a.shape[1] + 1.0) ** 3  # k(a_i, a_i)
        return quadratic(a, ca, a, ca) - counts @ np.bincount(ca, weights=diagonal, minlength=n), counts @ np.bincount(ca, minlength=n)

    wx, m = within(x, clips_x)
    wy, k = within(y, clips_y)
    cross = quadratic(x, clips_x, y, clips_y)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = wx / (m * (m - 1)) + wy / (k * (k - 1)) - 2.0 * cross / (m * k)
    return np.where((m >= 2) & (k >= 2), value, np.nan)


class PolynomialMMDMetric(FeatureRowsMetric):
    """KVD on I3D logits of 16-frame windows (``update(pred=..., gt=...)`` with ``(n, dim)`` rows)."""

    def __init__(self, name: str = "kvd", dim: int = 400) -> None:
        super().__init__(name, dim)

    @property
    def directions(self) -> dict[str, Direction]:
        return {self.name: "lower"}

    def compute(self) -> dict[str, float]:
        return {self.name: polynomial_mmd(self.rows("pred"), self.rows("gt"))}

    def resample(self, counts: np.ndarray) -> dict[str, np.ndarray]:
        index = {clip: i for i, clip in enumerate(self.clip_ids())}
        (x, cx), (y, cy) = (self.clip_rows(side) for side in self.SIDES)
        positions = [np.array([index[str(c)] for c in clips], dtype=np.int64) for clips in (cx, cy)]
        return {self.name: resampled_mmd(x, positions[0], y, positions[1], counts.astype(np.float64))}
