"""Typed MM-Diffusion configuration and its YAML presets (``mmgt/presets/mm_diffusion_*.yaml``).

A preset is named (``tiny``, ``paper``) or given as a YAML path; ``overrides`` are
``section.field=value`` strings parsed as YAML (``sr.channels=[8,16]``). The ``paper`` sizes are
the release's (``ssh_scripts/multimodal_train.sh`` and the 64 -> 256 upsampler flags).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from mmgt.config import from_dict, load_preset


@dataclass(frozen=True)
class CoupledConfig:
    """The coupled audio-video U-Net. Rates in ``*_attention`` are video downsampling factors."""

    frames: int = 16
    size: int = 64
    fps: float = 10.0
    sample_rate: int = 16000
    audio_samples: int = 25600  # = frames / fps seconds of raw waveform
    channels: int = 128
    channel_mult: tuple[int, ...] = (1, 2, 3, 4)
    res_blocks: int = 2
    head_channels: int = 64
    video_attention: tuple[int, ...] = (2, 4, 8)  # spatial + temporal self-attention
    cross_attention: tuple[int, ...] = (2, 4, 8)  # RS-MMA between the branches
    cross_windows: tuple[int, ...] = (1, 4, 8)  # audio window (in frames) per cross-attention rate
    random_shift: bool = True  # training only; the window starts at the frame itself at eval
    audio_down: int = 4  # audio length divided by this at each video halving
    max_dilation: int = 10  # audio conv dilation 2 ** (block index % max_dilation)
    dropout: float = 0.1

    def __post_init__(self) -> None:
        if len(self.cross_windows) != len(self.cross_attention):
            raise ValueError("model.cross_windows needs one window per model.cross_attention rate")
        if abs(self.frames / self.fps * self.sample_rate - self.audio_samples) > 0.5:
            raise ValueError(f"model.audio_samples must cover frames / fps = {self.frames / self.fps} s at {self.sample_rate} Hz")
        levels = len(self.channel_mult)
        if self.size % 2 ** (levels - 1) or self.audio_samples % (self.audio_down ** (levels - 1) * self.frames):
            raise ValueError("model.size and model.audio_samples must divide evenly at every level (audio per frame too)")
        if any(w > self.frames for w in self.cross_windows):
            raise ValueError("model.cross_windows cannot exceed model.frames")

    @property
    def duration(self) -> float:
        return self.frames / self.fps


@dataclass(frozen=True)
class SRConfig:
    """The per-frame super-resolution U-Net (diffusers ``UNet2DModel``), low-res frame concatenated."""

    in_size: int = 64
    out_size: int = 256
    channels: tuple[int, ...] = (192, 192, 384, 384, 768, 768)
    layers_per_block: int = 2
    attention_levels: tuple[int, ...] = (3, 4, 5)  # 32, 16 and 8 pixels at 256
    head_channels: int = 64
    norm_groups: int = 32
    crop: int = 256  # training crop of the high-res frame (the net is convolutional)

    def __post_init__(self) -> None:
        if self.out_size % self.in_size or self.crop % (self.out_size // self.in_size) or self.crop > self.out_size:
            raise ValueError("sr.out_size must be a multiple of sr.in_size, sr.crop a multiple of the scale and <= out_size")


@dataclass(frozen=True)
class DiffusionConfig:
    """Linear betas, epsilon prediction; DDIM sampling (eta = 1 over all 1000 steps is the release's DDPM)."""

    train_steps: int = 1000
    beta_start: float = 1e-4
    beta_end: float = 0.02
    sample_steps: int = 1000
    eta: float = 1.0
    sr_sample_steps: int = 25
    sr_eta: float = 0.0


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 100000
    batch_size: int = 4
    lr: float = 1e-4
    ema_decay: float = 0.9999
    checkpoint_every: int = 1000
    log_every: int = 10
    seed: int = 0
    threads: int = 0  # torch CPU threads; 0 keeps torch's default


@dataclass(frozen=True)
class MMDiffusionConfig:
    name: str = "paper"
    model: CoupledConfig = field(default_factory=CoupledConfig)
    sr: SRConfig = field(default_factory=SRConfig)
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    sr_train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        if self.sr.in_size != self.model.size:
            raise ValueError(f"sr.in_size ({self.sr.in_size}) must equal model.size ({self.model.size})")

    def to_dict(self) -> dict:
        return asdict(self)


def load_config(preset: str = "tiny", overrides: list[str] | tuple[str, ...] = ()) -> MMDiffusionConfig:
    """Load a preset (``tiny``, ``paper`` or a YAML path) with ``section.field=value`` overrides."""
    return load_preset(MMDiffusionConfig, "mm_diffusion_", preset, overrides, "MM-Diffusion")


def config_from_json(text: str) -> MMDiffusionConfig:
    return from_dict(MMDiffusionConfig, json.loads(text))
