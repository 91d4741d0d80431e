"""Per-clip on-disk feature cache, keyed by feature kind, parameters and the wav's content hash."""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path
from typing import Callable

import numpy as np

from mmgt.errors import CorruptCacheEntryWarning
from mmgt.video_io import atomic_path
from mmgt.weights import sha256_file as file_sha256


class FeatureCache:
    """``ROOT/<kind>/<clip>-<key>.npy``; a changed wav or parameter gives a new key, never a stale hit."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, kind: str, wav_path: str | Path, params: dict) -> Path:
        wav_path = Path(wav_path)
        key_src = json.dumps({"kind": kind, "params": params, "wav": file_sha256(wav_path)}, sort_keys=True)
        key = hashlib.sha256(key_src.encode()).hexdigest()[:16]
        clip = wav_path.parent.name or wav_path.stem
        return self.root / kind / f"{clip}-{wav_path.stem}-{key}.npy"

    def get_or_compute(self, kind: str, wav_path: str | Path, params: dict, compute: Callable[[], np.ndarray]) -> np.ndarray:
        """Load the cached array, or compute it and store it atomically (an unreadable entry is a miss, with a warning)."""
        target = self.path(kind, wav_path, params)
        if target.is_file():
            try:
                return np.load(target, allow_pickle=False)
            except (OSError, ValueError, EOFError) as exc:  # truncated, damaged or empty: a miss
                warnings.warn(f"{target}: unreadable cached feature ({exc.__class__.__name__}); removed and recomputed",
                              CorruptCacheEntryWarning, stacklevel=2)
                target.unlink()
        feat = compute()
        with atomic_path(target) as tmp:
            np.save(tmp, feat)
        return feat
