"""Feature batches given to the distribution metrics: checked ``(n, dim)`` float64 rows."""

from __future__ import annotations

import numpy as np
import torch

FeatureBatch = np.ndarray | torch.Tensor


def feature_rows(features: FeatureBatch, dim: int, what: str) -> np.ndarray:
    """``features`` as a C-contiguous ``(n, dim)`` float64 numpy array; raises on a bad shape or NaN."""
    if isinstance(features, torch.Tensor):
        features = features.detach().to("cpu", torch.float64).numpy()
    rows = np.ascontiguousarray(features, dtype=np.float64)
    if rows.ndim != 2 or rows.shape[1] != dim:
        raise ValueError(f"{what}: expected features of shape (n, {dim}), got {rows.shape}")
    if not np.isfinite(rows).all():
        raise ValueError(f"{what}: features contain NaN or infinity")
    return rows


def canonical_order(rows: np.ndarray) -> np.ndarray:
    """The rows sorted lexicographically, so that a result over a set ignores the order it came in."""
    return rows[np.lexsort(rows.T[::-1])] if len(rows) else rows
