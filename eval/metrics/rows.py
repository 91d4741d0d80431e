"""Metrics over the feature rows of predicted and ground-truth sets (state: the rows themselves)."""

from __future__ import annotations

import numpy as np

from eval.metrics.base import Metric
from eval.metrics.features import FeatureBatch, canonical_order, feature_rows


class FeatureRowsMetric(Metric):
    """Keeps the ``(n, dim)`` rows of each side; merging concatenates them."""

    SIDES = ("pred", "gt")

    def __init__(self, name: str, dim: int, **config: int | float | str) -> None:
        super().__init__(name, dim=dim, **config)
        self.dim = dim
        for side in self.SIDES:
            self.add_state(f"{side}.rows", np.empty((0, dim)), "cat")

    def update(self, pred: FeatureBatch | None = None, gt: FeatureBatch | None = None) -> None:
        for side, features in zip(self.SIDES, (pred, gt)):
            if features is not None:
                self._add(f"{side}.rows", feature_rows(features, self.dim, f"{self.name} {side}"))

    def rows(self, side: str) -> np.ndarray:
        """All rows of ``"pred"`` or ``"gt"`` in canonical (sorted) order, whatever order they came in."""
        return canonical_order(self._get(f"{side}.rows"))

    def diagnostics(self) -> dict[str, int]:
        return {f"n_{side}": len(self._get(f"{side}.rows")) for side in self.SIDES}
