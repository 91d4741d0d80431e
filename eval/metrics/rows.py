"""Metrics over the feature rows of predicted and ground-truth sets (state: the rows themselves).

Rows given with a ``clip_id`` keep it (one id per row), so that the clip bootstrap can resample
them by clip (eval/metrics/base.py's contract).
"""

from __future__ import annotations

import numpy as np

from eval.metrics.base import Metric
from eval.metrics.features import FeatureBatch, canonical_order, feature_rows


class FeatureRowsMetric(Metric):
    """Keeps the ``(n, dim)`` rows of each side and, when given, each row's clip id; merging concatenates them."""

    SIDES = ("pred", "gt")

    def __init__(self, name: str, dim: int, **config: int | float | str) -> None:
        super().__init__(name, dim=dim, **config)
        self.dim = dim
        for side in self.SIDES:
            self.add_state(f"{side}.rows", np.empty((0, dim)), "cat")
            self.add_state(f"{side}.clip", np.empty(0, dtype=str), "cat")

    def update(self, pred: FeatureBatch | None = None, gt: FeatureBatch | None = None, clip_id: str | None = None) -> None:
        """``(n, dim)`` rows of either side or both; ``clip_id``: the clip they come from (for the bootstrap)."""
        for side, features in zip(self.SIDES, (pred, gt)):
            if features is not None:
                self.add_rows(side, feature_rows(features, self.dim, f"{self.name} {side}"), clip_id)

    def add_rows(self, side: str, rows: np.ndarray, clip_id: str | None) -> None:
        self._add(f"{side}.rows", rows)
        if clip_id is not None:
            self._add(f"{side}.clip", np.full(len(rows), clip_id))

    def rows(self, side: str) -> np.ndarray:
        """All rows of ``"pred"`` or ``"gt"`` in canonical (sorted) order, whatever order they came in."""
        return canonical_order(self._get(f"{side}.rows"))

    def clip_rows(self, side: str) -> tuple[np.ndarray, np.ndarray] | None:
        """A side's rows grouped by clip (sorted ids, each clip's rows in the order they came) and their clip
        ids; None when some row came without a clip id."""
        rows, clips = self._get(f"{side}.rows"), self._get(f"{side}.clip")
        if len(clips) != len(rows):
            return None
        order = np.argsort(clips, kind="stable")
        return rows[order], clips[order]

    def clip_ids(self) -> list[str] | None:
        sides = [self.clip_rows(side) for side in self.SIDES]
        if any(s is None for s in sides):
            return None
        return [str(c) for c in np.unique(np.concatenate([sides[0][1], sides[1][1]]))]

    def row_counts(self, counts: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per side: its rows grouped by clip, and ``(B, n_rows)`` copies of each row (its clip's count)."""
        index = {clip: i for i, clip in enumerate(self.clip_ids())}
        out = []
        for side in self.SIDES:
            rows, clips = self.clip_rows(side)
            out.append((rows, counts[:, [index[str(c)] for c in clips]]))
        return out

    def diagnostics(self) -> dict[str, int]:
        return {f"n_{side}": len(self._get(f"{side}.rows")) for side in self.SIDES}
