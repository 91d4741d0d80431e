"""Atomic on-disk feature cache keyed by everything that changes the features."""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Callable

import numpy as np

from mmgt.errors import CorruptCacheEntryWarning
from mmgt.video_io import atomic_path


def cache_key(**parts) -> str:
    """A stable hash of JSON-serialisable ``parts`` (extractor, weights hash, preprocessing, input hash, protocol)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


class CorruptEntry(Exception):
    """An entry whose arrays are not the ones it lists (a damaged zip directory can hide members)."""


class FeatureCache:
    """``root/<k[:2]>/<k>.npz`` files written atomically; a corrupt entry reads as a miss.

    Each entry lists its arrays in a first member, ``__names__``: zip CRCs guard the arrays' bytes,
    the list guards against a damaged directory that hides members.
    """

    NAMES = "__names__"

    def __init__(self, root: str | Path | None):
        self.root = Path(root) if root is not None else None

    def _path(self, key: str) -> Path:
        assert self.root is not None
        return self.root / key[:2] / f"{key}.npz"

    def get(self, key: str) -> dict[str, np.ndarray] | None:
        """The arrays stored under ``key``; None for a miss and for an unreadable entry (removed, with a warning)."""
        path = self._path(key) if self.root is not None else None
        if path is None or not path.is_file():
            return None
        try:
            with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
            names = arrays.pop(self.NAMES, None)
            if names is None or sorted(names.tolist()) != sorted(arrays):
                raise CorruptEntry
            return arrays
        except Exception as exc:  # noqa: BLE001 (truncated, bit-flipped, empty: every read failure is a miss)
            warnings.warn(f"unreadable feature-cache entries under {self.root} ({exc.__class__.__name__}) "
                          "were removed and recomputed", CorruptCacheEntryWarning, stacklevel=2)
            path.unlink(missing_ok=True)
            return None

    def put(self, key: str, arrays: dict[str, np.ndarray]) -> None:
        if self.root is None:
            return
        assert self.NAMES not in arrays
        with atomic_path(self._path(key)) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, **{self.NAMES: np.array(sorted(arrays), dtype=str)}, **arrays)


def content_key(value):
    """A JSON-able stand-in for a call argument: arrays by dtype, shape and content hash."""
    if isinstance(value, np.ndarray):
        data = np.ascontiguousarray(value)
        return ["ndarray", data.dtype.str, list(data.shape), hashlib.sha256(data.view(np.uint8).reshape(-1)).hexdigest()]
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, (list, tuple)):
        return [content_key(v) for v in value]
    return value


class MemoizedCalls:
    """``target``'s array-returning methods, each result stored in ``cache`` as soon as it is computed.

    The key is the method name, its arguments' contents and ``salt()`` (e.g. the extractors' weights
    fingerprint), so an interrupted clip keeps every extractor output it finished, whichever
    extractors a run has: ``MemoizedCalls(extractors, cache, salt).sync_distances(crops, audio, protocol)``.
    """

    def __init__(self, target, cache: FeatureCache, salt: Callable[[], object]):
        self._target, self._cache, self._salt = target, cache, salt

    def __getattr__(self, name: str):
        method = getattr(self._target, name)
        if self._cache.root is None:
            return method

        def call(*args, **kwargs):
            key = cache_key(kind="call", method=name, args=[content_key(a) for a in args],
                            kwargs={k: content_key(v) for k, v in kwargs.items()}, salt=self._salt())
            hit = self._cache.get(key)
            if hit is not None:
                return hit["out"]
            out = np.asarray(method(*args, **kwargs))
            self._cache.put(key, {"out": out})
            return out

        return call
