"""MMGT stage 2 as a video generator: reference image + stage 1's poses + speech -> frames.

Masks come from the poses (:func:`mmgt.stage2.audio_attention.branch_masks`, per frame or still as
the model folder's audio config says); audio features from the clip's wav (or samples) with the
model's :mod:`mmgt.features` kind. The row ``mmgt`` composes it with SMGA poses
(:class:`~mmgt.methods.stage1_poses.Stage1Poses`); :mod:`baselines.hallo` reuses it with static masks.
"""

from __future__ import annotations

from dataclasses import asdict
from functools import cached_property

import numpy as np
import yaml

from mmgt.errors import MMGTError
from mmgt.features.audio import AudioFeatureConfig, AudioFeaturizer
from mmgt.methods.base import Conditions, MethodConfig
from mmgt.methods.stage2_video import Stage2Video
from mmgt.stage2.audio_attention import branch_masks
from mmgt.stage2.mmgt_pipeline import MMGTPipeline
from mmgt.video_io import SAMPLE_RATE, resample


class MMGTVideo(Stage2Video):
    """``config.checkpoint``: an MMGT model folder (default: committed ``checkpoints/stage2/<preset>-<variant>``,
    else ``runs/stage2/<preset>-<variant>/video/model``, where :func:`mmgt.stage2.mmgt_train.train_mmgt` writes it)."""

    name = "mmgt-stage2"
    variant = "mmgt"
    # The variant's MM-HAA settings: overrides of the preset for training (load_audio_config), checked on load.
    settings: tuple[str, ...] = ("masks=motion", "audio=true")
    description = "MMGT stage 2 (backbone + MM-HAA with per-frame motion masks from the poses)"

    def __init__(self, config: MethodConfig = MethodConfig(), audio_weights: str | None = None):
        super().__init__(config)
        self.audio_weights = audio_weights

    def run_name(self) -> str:
        return f"{self.config.preset}-{self.variant}"

    @cached_property
    def pipeline(self) -> MMGTPipeline:
        pipe = self.load_pipeline(MMGTPipeline)
        trained = asdict(pipe.model.audio_cfg)
        for override in self.settings:
            key, _, value = override.partition("=")
            if trained[key] != yaml.safe_load(value):
                raise MMGTError(f"{self.checkpoint}: a {self.variant} model needs {override}, this one has {key}={trained[key]}")
        return pipe

    @cached_property
    def featurizer(self) -> AudioFeaturizer:
        kind = self.pipeline.model.audio_cfg.feature_kind
        return AudioFeaturizer(AudioFeatureConfig(kind, self.audio_weights, device=self.config.device))

    def audio_features(self, cond: Conditions, n_frames: int) -> np.ndarray:
        if cond.audio_path is not None:
            return self.featurizer(cond.audio_path, n_frames)
        wav = cond.audio if cond.sample_rate == SAMPLE_RATE else resample(cond.audio, cond.sample_rate, SAMPLE_RATE)
        return self.featurizer.from_wave(wav, n_frames)

    def masks(self, cond: Conditions, poses: np.ndarray) -> np.ndarray:
        """``(T, 3, h, w)`` branch masks (full, face, lip) from the poses."""
        return branch_masks(poses, cond.size, self.pipeline.model.audio_cfg.masks)

    def render(self, cond: Conditions, poses: np.ndarray) -> np.ndarray:
        frames = self.pipeline(cond.ref_image, poses, self.audio_features(cond, len(poses)), self.masks(cond, poses),
                               seed=self.config.seed, progress=self.config.progress)
        return self.to_clip_size(frames, cond)


class MMGTStillMask(MMGTVideo):
    """Table III "still mask": a model trained and run with ``masks: still`` (one mask per clip)."""

    variant = "mmgt-still-mask"
    settings = ("masks=still", "audio=true")
    description = "MMGT stage 2 with still masks (the union over the clip)"


class MMGTNoMask(MMGTVideo):
    """Table III "w/o motion mask": ``masks: none`` (no mask multiplication)."""

    variant = "mmgt-no-mask"
    settings = ("masks=none", "audio=true")
    description = "MMGT stage 2 without mask multiplication"


class MMGTNoAudio(MMGTVideo):
    """Table III "w/o audio": ``audio: false`` (the audio cross-attentions are self-attentions)."""

    variant = "mmgt-no-audio"
    settings = ("masks=motion", "audio=false")
    description = "MMGT stage 2 with self-attention in place of the audio cross-attention"
