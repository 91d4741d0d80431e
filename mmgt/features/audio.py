"""Audio features for a wav file on the video frame grid, cached per clip.

Kinds:

- ``baseline``: EDGE's 35-d librosa features (the tiny preset).
- ``wavlm``: WavLM-Large last layer (1024) concatenated with ``baseline`` (35) = 1059-d, as S2G-MDD
  and the MMGT release feed stage 1 (no normalisation).
- ``wav2vec2``: all 12 wav2vec2-base-960h layers, ``(T, 12, 768)``, for stage 2's audio tokens.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from mmgt.features.cache import FeatureCache
from mmgt.features.librosa_baseline import DIM as BASELINE_DIM
from mmgt.features.librosa_baseline import baseline_features
from mmgt.features.ssl import WAV2VEC2_BASE, WAVLM_LARGE, SSLEncoder, SSLSpec, checkpoint_dir, checkpoint_id
from mmgt.video_io import FPS, SAMPLE_RATE, read_audio

FEATURE_VERSION = 2  # bump when a kind's computation changes (2: WavLM waveform layer norm, wav2vec2 frames before the encoder)
SHAPES: dict[str, tuple[int, ...]] = {"baseline": (BASELINE_DIM,), "wavlm": (1024 + BASELINE_DIM,), "wav2vec2": (12, 768)}


def feature_shape(kind: str) -> tuple[int, ...]:
    """Per-frame shape of a feature kind."""
    if kind not in SHAPES:
        raise ValueError(f"unknown audio feature kind {kind!r}; choose from {sorted(SHAPES)}")
    return SHAPES[kind]


@dataclass(frozen=True)
class AudioFeatureConfig:
    """Which features, from which checkpoint folder (None: the weights cache), cached where."""

    kind: str = "baseline"
    weights: str | None = None
    cache_dir: str | None = "cache/features"
    device: str = "cpu"


class AudioFeaturizer:
    """Computes (or loads from the cache) ``(n_frames, *feature_shape(kind))`` float32 features."""

    def __init__(self, config: AudioFeatureConfig = AudioFeatureConfig()):
        feature_shape(config.kind)
        self.config = config
        self.cache = FeatureCache(config.cache_dir) if config.cache_dir else None

    @cached_property
    def spec(self) -> SSLSpec:
        return WAVLM_LARGE if self.config.kind == "wavlm" else WAV2VEC2_BASE

    @cached_property
    def encoder(self) -> SSLEncoder:
        return SSLEncoder(self.spec, self.config.weights, self.config.device)

    def params(self, n_frames: int) -> dict:
        """Everything the features depend on besides the wav (the cache key)."""
        weights = None
        if self.config.kind != "baseline":
            weights = {"name": self.spec.name} | checkpoint_id(checkpoint_dir(self.spec, self.config.weights))
        return {"n_frames": n_frames, "fps": FPS, "version": FEATURE_VERSION, "weights": weights}

    def __call__(self, wav_path: str | Path, n_frames: int) -> np.ndarray:
        if self.cache is None:
            return self.from_wave(read_audio(wav_path, SAMPLE_RATE), n_frames)
        return self.cache.get_or_compute(
            self.config.kind, wav_path, self.params(n_frames),
            lambda: self.from_wave(read_audio(wav_path, SAMPLE_RATE), n_frames),
        )

    def from_wave(self, wav: np.ndarray, n_frames: int) -> np.ndarray:
        """Features of a 16 kHz mono signal (no cache)."""
        kind = self.config.kind
        if kind == "baseline":
            return baseline_features(wav, SAMPLE_RATE, n_frames)
        ssl = self.encoder(wav, n_frames)
        if kind == "wavlm":
            return np.concatenate([ssl, baseline_features(wav, SAMPLE_RATE, n_frames)], axis=-1)
        return ssl

    def describe(self) -> dict:
        return asdict(self.config) | {"shape": list(feature_shape(self.config.kind)), "version": FEATURE_VERSION}
