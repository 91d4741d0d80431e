"""Atomic on-disk feature cache keyed by everything that changes the features."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from mmgt.video_io import atomic_path



def cache_key(**parts) -> str:
    """A stable hash of JSON-serialisable ``parts`` (extractor, weights hash, preprocessing, input hash, protocol)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


class FeatureCache:
    """``root/<k[:2]>/<k>.npz`` files written atomically; a corrupt entry reads as a miss."""

    def __init__(self, root: str | Path | None):
        self.root = Path(root) if root is not None else None

    def _path(self, key: str) -> Path:
        assert self.root is not None
        return self.root / key[:2] / f"{key}.npz"

    def get(self, key: str) -> dict[str, np.ndarray] | None:
        if self.root is None or not self._path(key).is_file():
            return None
        try:
            with np.load(self._path(key), allow_pickle=False) as data:
                return {k: data[k] for k in data.files}
        except (OSError, ValueError, EOFError):
            os.unlink(self._path(key))
            return None

    def put(self, key: str, arrays: dict[str, np.ndarray]) -> None:
        if self.root is None:
            return
        with atomic_path(self._path(key)) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, **arrays)
