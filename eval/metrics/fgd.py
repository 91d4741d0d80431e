"""Gesture metrics in the latent space of the project's gesture autoencoder: FGD and Div.

The caller encodes keypoint windows with the autoencoder (eval/extractors) and passes the
latents here. FGD is the Frechet distance of :mod:`eval.metrics.frechet`. Div is the HA2G
diversity: the mean L1 distance between each sample and the partner a seeded permutation draws
for it (HA2G uses ``torch.randperm`` over at most 500 samples; here the permutation is a seeded
numpy one over all samples in canonical order, so Div is reproducible and order-free).
"""

from __future__ import annotations

import math

import numpy as np

from eval.metrics.base import Direction
from eval.metrics.features import canonical_order
from eval.metrics.frechet import FrechetMetric
from eval.metrics.rows import FeatureRowsMetric


def diversity(rows: np.ndarray, seed: int) -> float:
    """Mean L1 distance between ``rows[i]`` and ``rows[perm[i]]`` for a seeded permutation."""
    if len(rows) < 2:
        raise ValueError(f"Div needs at least 2 samples, got {len(rows)}")
    partners = rows[np.random.default_rng(seed).permutation(len(rows))]
    return math.fsum(np.abs(rows - partners).sum(axis=1)) / len(rows)


class FGDMetric(FrechetMetric):
    """Frechet Gesture Distance: ``update(pred=..., gt=...)`` with ``(n, dim)`` autoencoder latents."""

    def __init__(self, dim: int) -> None:
        super().__init__("fgd", dim)


class DiversityMetric(FeatureRowsMetric):
    """Div of the predicted latents (``div``) and, for reference, of the ground truth (``div_gt``)."""

    def __init__(self, dim: int, seed: int = 0) -> None:
        super().__init__("div", dim, seed=seed)
        self.seed = seed

    @property
    def directions(self) -> dict[str, Direction]:
        return {"div": "higher", "div_gt": "none"}

    def compute(self) -> dict[str, float]:
        return {"div": diversity(self.rows("pred"), self.seed), "div_gt": diversity(self.rows("gt"), self.seed)}

    def resample(self, counts: np.ndarray) -> dict[str, np.ndarray]:
        """Div of each multiset: its rows repeated by their clip's count, in canonical order, then the seeded pairing."""
        out = {}
        for name, (rows, copies) in zip(("div", "div_gt"), self.row_counts(counts)):
            values = [diversity(canonical_order(np.repeat(rows, c, axis=0)), self.seed) if c.sum() >= 2 else math.nan
                      for c in copies.astype(np.int64)]
            out[name] = np.array(values)
        return out
