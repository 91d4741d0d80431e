"""Audio -> pose sequence with a trained stage-1 model (SMGA or EDGE), any audio length.

``PoseGenerator.generate`` takes a wav and the reference pose in pixels and returns ``(T, 134, 3)``
pixel keypoints at 25 fps, ``T = round(duration * 25)``; scores are clipped to [0, 1].
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import Tensor

from mmgt import keypoints as K
from mmgt.features.audio import AudioFeatureConfig, AudioFeaturizer
from mmgt.stage1.checkpoint import load_model
from mmgt.stage1.config import Stage1Config
from mmgt.stage1.diffusion import GaussianDiffusion, guided_denoiser
from mmgt.stage1.longform import chained, overlapping
from mmgt.stage1.smga import SMGA
from mmgt.video_io import FPS, SAMPLE_RATE, read_audio


def n_frames_for(wav: np.ndarray, sample_rate: int = SAMPLE_RATE, fps: int = FPS) -> int:
    return max(1, round(len(wav) / sample_rate * fps))


class PoseGenerator:
    """A stage-1 model with its diffusion sampler and audio featurizer."""

    def __init__(self, cfg: Stage1Config, model: SMGA, audio: AudioFeatureConfig | None = None, device: str = "cpu"):
        self.cfg, self.model, self.device = cfg, model.to(device).eval(), device
        self.diffusion = GaussianDiffusion(cfg.diffusion)
        self.featurizer = AudioFeaturizer(audio or AudioFeatureConfig(kind=cfg.audio.kind))

    @classmethod
    def from_file(cls, path: str | Path, weights: str | None = None, cache_dir: str | None = "cache/features", device: str = "cpu") -> "PoseGenerator":
        cfg, model, _ = load_model(path, device)
        return cls(cfg, model, AudioFeatureConfig(kind=cfg.audio.kind, weights=weights, cache_dir=cache_dir), device)

    def sampler(self, generator: torch.Generator) -> Callable[[Tensor, Tensor, Callable | None], Tensor]:
        """Window sampler for the long-form strategies: guided DDIM on a batch of windows."""

        def sample(audio: Tensor, ref: Tensor, after_step: Callable[[Tensor], Tensor] | None) -> Tensor:
            audio, ref = audio.to(self.device), ref.to(self.device)
            denoise = guided_denoiser(self.model, ref, audio, self.cfg.diffusion.guidance)
            shape = (ref.shape[0], self.cfg.model.horizon, self.cfg.model.pose_dim)
            return self.diffusion.sample(denoise, shape, generator, after_step, device=self.device).cpu()

        return sample

    @torch.inference_mode()
    def generate_model_space(self, audio: np.ndarray, ref: np.ndarray, seed: int = 0) -> np.ndarray:
        """``(T, A)`` features and a ``(402,)`` model-space reference -> ``(T, 402)`` model-space poses."""
        generator = torch.Generator(self.device).manual_seed(seed)
        feats, ref_t = torch.from_numpy(np.asarray(audio, np.float32)), torch.from_numpy(np.asarray(ref, np.float32))
        horizon, gen = self.cfg.model.horizon, self.cfg.generation
        if gen.long_form == "overlap":
            out = overlapping(self.sampler(generator), feats, ref_t, horizon)
        else:
            out = chained(self.sampler(generator), feats, ref_t, horizon, gen.seam_frames)
        return out.numpy()

    def generate(
        self, wav: str | Path | np.ndarray, ref_pixels: np.ndarray, size: tuple[int, int], n_frames: int | None = None, seed: int = 0
    ) -> np.ndarray:
        """Pixel keypoints ``(T, 134, 3)`` for a ``(w, h)`` frame, driven by a wav file or a 16 kHz signal."""
        K.check_shape(ref_pixels)
        signal = wav if isinstance(wav, np.ndarray) else None
        n = n_frames or n_frames_for(signal if signal is not None else read_audio(wav, SAMPLE_RATE))
        feats = (self.featurizer.from_wave(signal, n) if signal is not None else self.featurizer(wav, n)).reshape(n, -1)
        normalizer = K.Normalizer(*size)
        ref = normalizer.to_model(ref_pixels).reshape(K.NUM_VALUES)
        poses = self.generate_model_space(feats, ref, seed).reshape(n, K.NUM_JOINTS, 3)
        out = normalizer.to_pixels(poses)
        out[..., 2] = np.clip(out[..., 2], 0.0, 1.0)
        return out
