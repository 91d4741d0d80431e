"""The gesture feature space of FGD/Div: one fixed encoder file per dataset.

- The embedded synthetic split's encoder is committed (``eval/assets/gesture_ae-synth.pt``, sha256
  pinned below) and used by default whenever the ground truth is that split (recognised by the hash of
  its training keypoints, which the checkpoint records): every clone scores in the same space.
- Any other split (PATS) gets an encoder trained once on its training keypoints and cached at
  ``<cache>/gesture_ae-<key>.pt``, the key covering the keypoints' content, the training settings and
  the model config; publish that file (and its sha256) so papers compare in the same space
  (docs/PROTOCOL.md). Retrain the committed one with ``make gesture-encoder``.
"""

from __future__ import annotations

from dataclasses import asdict
from functools import lru_cache
from pathlib import Path

from eval.cache import cache_key
from eval.extractors.gesture_ae import GestureAEConfig, read_checkpoint
from eval.gesture_train import TrainSettings, data_hash, split_sequences, train_gesture_encoder
from mmgt.data.layout import MANIFEST
from mmgt.errors import DataError
from mmgt.weights import sha256_file

DEFAULT_CACHE = Path("runs/cache/gesture")
EMBEDDED_ENCODER = Path(__file__).resolve().parent / "assets" / "gesture_ae-synth.pt"
EMBEDDED_SHA256 = "6bca10d883ddb90dafbb1c309a2011327f588929bc4acaecd95bf5cfeaff1ef0"


@lru_cache(maxsize=1)
def embedded_encoder() -> tuple[Path, str]:
    """The committed encoder and the hash of the training keypoints it was trained on (sha256 checked)."""
    if not EMBEDDED_ENCODER.is_file():
        raise DataError(EMBEDDED_ENCODER, "the committed gesture encoder is missing (restore it from git)")
    if sha256_file(EMBEDDED_ENCODER) != EMBEDDED_SHA256:
        raise DataError(EMBEDDED_ENCODER, f"sha256 differs from the pinned {EMBEDDED_SHA256[:16]} (restore it from git, "
                                          "or after `make gesture-encoder` update EMBEDDED_SHA256)")
    _, training, _ = read_checkpoint(EMBEDDED_ENCODER)
    return EMBEDDED_ENCODER, training["data_hash"]


def split_hash(data: Path) -> str:
    """sha256 of a split root's training keypoints (what an encoder is trained on)."""
    return data_hash(split_sequences(data))


def default_encoder(gt: Path) -> Path | None:
    """The committed encoder when ``gt`` is the embedded synthetic split's root, else None."""
    if not (Path(gt) / MANIFEST).is_file():
        return None
    path, trained_on = embedded_encoder()
    return path if split_hash(Path(gt)) == trained_on else None


def encoder_for_split(data: Path, cache_dir: Path = DEFAULT_CACHE, seed: int = 0) -> Path:
    """The encoder of ``data``: the committed one for the embedded split, else cached (trained now if absent)."""
    embedded = default_encoder(data) if seed == 0 else None
    if embedded is not None:
        return embedded
    settings, config = TrainSettings(seed=seed), GestureAEConfig()
    key = cache_key(data=split_hash(data), settings=asdict(settings), config=asdict(config))[:16]
    path = Path(cache_dir) / f"gesture_ae-{key}.pt"
    if not path.is_file():
        train_gesture_encoder(data, path, settings=settings, config=config)
    return path


def train_for_split(data: Path, out: Path | None = None, seed: int = 0) -> Path:
    """``mmgt-eval train-gesture-encoder``: to ``out`` when given, else the split's default encoder."""
    if out is None:
        return encoder_for_split(data, DEFAULT_CACHE, seed)
    return train_gesture_encoder(data, out, settings=TrainSettings(seed=seed))
