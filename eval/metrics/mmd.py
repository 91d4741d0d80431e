"""KVD: unbiased polynomial-kernel MMD^2 over the full feature sets (the TATS form).

``k(x, y) = (x.y / d + 1)^3``; the within-set terms exclude the diagonal:
``MMD^2 = sum_{i!=j} k(x_i, x_j) / (m(m-1)) + sum_{i!=j} k(y_i, y_j) / (n(n-1)) - 2 sum k(x_i, y_j) / (mn)``.
No subsets, no x1000 scaling. Kernel sums run over fixed blocks of the canonically ordered rows
and are added with ``math.fsum``, so the value does not depend on row order or batch sizes.
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


class PolynomialMMDMetric(FeatureRowsMetric):
    """KVD on I3D logits of 16-frame windows (``update(pred=..., gt=...)`` with ``(n, dim)`` rows)."""

    def __init__(self, name: str = "kvd", dim: int = 400) -> None:
        super().__init__(name, dim)

    @property
    def directions(self) -> dict[str, Direction]:
        return {self.name: "lower"}

    def compute(self) -> dict[str, float]:
        return {self.name: polynomial_mmd(self.rows("pred"), self.rows("gt"))}
