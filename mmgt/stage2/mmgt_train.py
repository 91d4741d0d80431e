"""MMGT stage-2 training: the backbone's video step (:func:`mmgt.stage2.train.train`) with MM-HAA.

It starts from the backbone's image-step model (``RunOptions.init``), adds the motion modules and the
audio modules (both zero-initialised, so step 0 equals the image model frame by frame) and trains
exactly those two; per sample it reads the clip's audio features (the preset's :mod:`mmgt.features`
kind, cached) as 5-frame windows and its masks from the clip's keypoints
(:func:`~mmgt.stage2.audio_attention.branch_masks`, motion or still as configured). Audio dropout
(``audio_drop_prob``) is drawn in :meth:`~mmgt.stage2.mmgt_model.MMGTModel.forward`.

::

    mmgt.stage2.mmgt_train.train_mmgt(load_config("tiny"), load_audio_config("tiny"),
        RunOptions(data="data/synth", out="runs/stage2/tiny-mmgt", init="runs/stage2/tiny/image/model"))
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from mmgt.data.layout import Split
from mmgt.errors import MMGTError
from mmgt.features.audio import AudioFeatureConfig, AudioFeaturizer
from mmgt.stage2.audio_attention import AudioAttentionConfig, branch_masks, frame_windows
from mmgt.stage2.config import Stage2Config
from mmgt.stage2.data import Batch, EncodedClips, batch_item, draw
from mmgt.stage2.mmgt_model import MMGTModel, save_mmgt
from mmgt.stage2.train import Recipe, RunOptions, initial_model, train


@dataclass
class AudioBatch(Batch):
    audio_windows: Tensor | None = None  # (B, F, window, layers, dim)
    masks: Tensor | None = None  # (B, F, 3, h, w)

    def to(self, device: torch.device) -> AudioBatch:
        return AudioBatch(*(getattr(self, f).to(device) for f in
                            ("latents", "pose", "ref_latents", "ref_images", "audio_windows", "masks")))

    def conditions(self) -> dict[str, Tensor]:
        return {"audio_windows": self.audio_windows, "masks": self.masks}


@dataclass
class AudioClips:
    encoded: EncodedClips
    features: list[Tensor]  # (T, layers, dim) per clip


class MMGTRecipe(Recipe):
    """The video step with audio modules; ``weights`` is the speech model folder (paper: wav2vec2)."""

    def __init__(self, audio: AudioAttentionConfig, weights: str | None = None):
        self.audio, self.weights = audio, weights

    def initial_model(self, cfg: Stage2Config, opts: RunOptions, step: str) -> MMGTModel:
        if step != "video":
            raise MMGTError("MMGT stage 2 trains the video step only; its image step is the backbone's (`mmgt train stage2 --step image`)")
        return MMGTModel.from_backbone(initial_model(cfg, opts, step), self.audio).train()

    def trainable(self, model: MMGTModel, step: str) -> list[torch.nn.Parameter]:
        return model.motion_parameters() + model.audio_parameters()

    def data(self, model: MMGTModel, opts: RunOptions, progress: bool) -> AudioClips:
        encoded = super().data(model, opts, progress)
        featurizer = AudioFeaturizer(AudioFeatureConfig(self.audio.feature_kind, self.weights,
                                                        cache_dir=str(Path(opts.out) / "cache" / "features")))
        clips = Split(opts.data).clips("train")
        shape = (self.audio.feature_layers, self.audio.feature_dim)
        features = [torch.from_numpy(featurizer(c.audio_path, len(z))).reshape(len(z), *shape)
                    for c, z in zip(clips, encoded.latents)]
        return AudioClips(encoded, features)

    def batch(self, data: AudioClips, rng: np.random.Generator, cfg: Stage2Config, step_cfg) -> AudioBatch:
        items = []
        for _ in range(step_cfg.batch_size):
            c, ref, span = draw(data.encoded, rng, step_cfg.frames, cfg.train.min_ref_distance)
            kp, size = data.encoded.keypoints[c], data.encoded.sizes[c]
            if self.audio.masks == "reference":  # Hallo-adapted: the reference frame's boxes for every frame
                masks = torch.from_numpy(branch_masks(kp[[ref] + span], size, "reference")[1:])
            else:  # still: the union over the whole clip
                masks = torch.from_numpy(branch_masks(kp, size, self.audio.masks)[span])
            windows = frame_windows(data.features[c], self.audio.window)[span]
            items.append((*batch_item(data.encoded, c, ref, span, cfg.resolution), windows, masks))
        return AudioBatch(*(torch.stack(column) for column in zip(*items)))

    def save(self, folder: Path, model: MMGTModel, scheduler, step: int, extra: dict) -> Path:
        return save_mmgt(folder, model, scheduler, step, extra | {"audio": self.audio.feature_kind})


def train_mmgt(cfg: Stage2Config, audio: AudioAttentionConfig, opts: RunOptions, weights: str | None = None) -> Path:
    """Train (or resume) MMGT's video step; returns ``OUT/video/model``."""
    return train(cfg, opts, "video", MMGTRecipe(audio, weights))
