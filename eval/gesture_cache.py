"""The gesture autoencoder of a split: trained once on its training keypoints, then reused.

The checkpoint is cached at ``<cache>/gesture_ae-<key>.pt`` where the key covers the training
keypoints' content, the training settings and the model config, so a changed split or setting trains
a new encoder and an unchanged one is never retrained. Its sha256 goes into every results file.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from eval.cache import cache_key
from eval.extractors.gesture_ae import GestureAEConfig
from eval.gesture_train import TrainSettings, data_hash, split_sequences, train_gesture_encoder

DEFAULT_CACHE = Path("runs/cache/gesture")


def encoder_for_split(data: Path, cache_dir: Path = DEFAULT_CACHE, seed: int = 0) -> Path:
    """The cached encoder for ``data``'s training split (trained now if absent)."""
    settings, config = TrainSettings(seed=seed), GestureAEConfig()
    key = cache_key(data=data_hash(split_sequences(data)), settings=asdict(settings), config=asdict(config))[:16]
    path = Path(cache_dir) / f"gesture_ae-{key}.pt"
    if not path.is_file():
        train_gesture_encoder(data, path, settings=settings, config=config)
    return path


def train_for_split(data: Path, out: Path | None = None, seed: int = 0) -> Path:
    """``mmgt-eval train-gesture-encoder``: to ``out`` when given, else into the cache."""
    if out is None:
        return encoder_for_split(data, DEFAULT_CACHE, seed)
    return train_gesture_encoder(data, out, settings=TrainSettings(seed=seed))
