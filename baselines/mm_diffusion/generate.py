"""Speech -> video with a trained MM-Diffusion: consecutive base windows, upsampling, frame-rate conversion.

The audio (resampled to the model's rate) is cut into consecutive ``audio_samples`` windows, the last
zero-padded; for each the coupled model samples ``frames`` frames with the audio branch clamped to
the real audio (replacement method). The native frames covering the clip are upsampled frame by
frame and mapped to the requested rate by nearest frame in time (10 -> 25 fps repeats frames).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from diffusers import UNet2DModel

from mmgt.video_io import resample

from baselines.mm_diffusion.checkpoint import load_run, load_state
from baselines.mm_diffusion.config import MMDiffusionConfig
from baselines.mm_diffusion.data import retime, to_uint8
from baselines.mm_diffusion.diffusion import sample
from baselines.mm_diffusion.model import CoupledUNet
from baselines.mm_diffusion.sr import build_sr, super_resolve


@dataclass
class Pipeline:
    """A coupled model and its upsampler, in eval mode on one device."""

    cfg: MMDiffusionConfig
    coupled: CoupledUNet
    sr: UNet2DModel
    source: str = "random-init"  # the run folder the weights came from

    @classmethod
    def load(cls, run: str | Path, device: str = "cpu") -> "Pipeline":
        cfg, _, states = load_run(run)
        run = Path(run)
        coupled = load_state(CoupledUNet(cfg.model), states["coupled"], run / "coupled.safetensors")
        sr = load_state(build_sr(cfg.sr), states["sr"], run / "sr.safetensors")
        return cls(cfg, coupled.to(device), sr.to(device), str(run))

    @classmethod
    def random_init(cls, cfg: MMDiffusionConfig, seed: int = 0) -> "Pipeline":
        """Untrained networks of the configured architecture (tests only; never a real result)."""
        torch.manual_seed(seed)
        return cls(cfg, CoupledUNet(cfg.model).eval(), build_sr(cfg.sr).eval())

    @property
    def device(self) -> torch.device:
        return next(self.coupled.parameters()).device

    def generate(self, audio: np.ndarray, sample_rate: int, n_frames: int, fps: float, seed: int = 0) -> np.ndarray:
        """``(n_frames, out, out, 3)`` uint8 frames at ``fps`` for mono ``audio``."""
        m = self.cfg.model
        wav = resample(np.asarray(audio, np.float32), sample_rate, m.sample_rate) if sample_rate != m.sample_rate else audio
        n_native = max(1, math.ceil(n_frames / fps * m.fps - 1e-6))
        n_windows = math.ceil(n_native / m.frames)
        padded = np.zeros(n_windows * m.audio_samples, np.float32)
        padded[: min(len(wav), len(padded))] = wav[: len(padded)]
        windows = torch.from_numpy(padded).view(n_windows, 1, m.audio_samples).to(self.device)
        gen = torch.Generator(self.device).manual_seed(seed)
        video, _ = sample(self.coupled, self.cfg.diffusion, n_windows, gen, audio=windows)
        low = video.flatten(0, 1)[:n_native].clamp(-1, 1)
        high = super_resolve(self.sr, self.cfg.diffusion, low, self.cfg.sr.out_size, gen)
        return to_uint8(high)[retime(n_frames, m.fps, fps, n_native)]
