"""Typed stage-1 configuration and its YAML presets (``mmgt/presets/*.yaml``).

A preset is named (``tiny``, ``paper``, ``edge-tiny``, ``tiny-single-stream`` -> ``stage1_tiny.yaml``,
``edge_tiny.yaml``, ``stage1_tiny_single_stream.yaml``, ...) or given as a path; ``overrides`` are
``section.field=value`` strings (values parsed as YAML), e.g. ``train.seed=1``. A preset may name a
``base`` preset and list only what differs from it (the EDGE and ablation presets inherit SMGA's
sizes, audio, diffusion and training budget this way).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from mmgt.config import PRESET_DIR, apply_override, from_dict
from mmgt.errors import DataError
from mmgt.features.audio import feature_shape
from mmgt.stage1.diffusion import DiffusionConfig
from mmgt.stage1.losses import LossConfig
from mmgt.stage1.smga import SMGAConfig



@dataclass(frozen=True)
class AudioConfig:
    """Which audio features condition the model; ``standardize`` z-scores them with train statistics."""

    kind: str = "wavlm"
    standardize: bool = False


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 3400
    batch_size: int = 256
    lr: float = 2e-4
    weight_decay: float = 0.02
    ema_decay: float = 0.9999
    checkpoint_every: int = 500
    log_every: int = 10
    seed: int = 0
    threads: int = 0  # torch CPU threads; 0 keeps torch's default


@dataclass(frozen=True)
class GenerationConfig:
    """Long audio: ``chained`` 80-frame windows (SMGA) or EDGE's half-``overlap`` windows."""

    long_form: str = "chained"
    seam_frames: int = 4  # frames on each side of a chained seam that absorb the jump

    def __post_init__(self) -> None:
        if self.long_form not in ("chained", "overlap"):
            raise ValueError(f"generation.long_form must be 'chained' or 'overlap', got {self.long_form!r}")


@dataclass(frozen=True)
class Stage1Config:
    name: str = "paper"
    model: SMGAConfig = field(default_factory=SMGAConfig)
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    audio: AudioConfig = field(default_factory=AudioConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    generation: GenerationConfig = field(default_factory=GenerationConfig)

    def __post_init__(self) -> None:
        (dim,) = feature_shape(self.audio.kind)
        if self.model.audio_dim != dim:
            raise ValueError(f"model.audio_dim is {self.model.audio_dim} but {self.audio.kind!r} features are {dim}-d")

    @property
    def run_name(self) -> str:
        """Default run folder name: the preset's name, plus ``-seed<N>`` for a training seed other than 0."""
        return self.name if self.train.seed == 0 else f"{self.name}-seed{self.train.seed}"

    def to_dict(self) -> dict:
        return asdict(self)


def preset_path(preset: str) -> Path:
    """A preset name (``tiny``, ``edge-paper``) or a YAML path -> the YAML file."""
    path = Path(preset)
    if path.suffix in (".yaml", ".yml"):
        return path
    stem = preset.replace("-", "_")
    name = stem if stem.startswith(("stage1_", "edge_")) else f"stage1_{stem}"
    return PRESET_DIR / f"{name}.yaml"


def available_presets() -> list[str]:
    files = [*PRESET_DIR.glob("stage1_*.yaml"), *PRESET_DIR.glob("edge_*.yaml")]
    return sorted(p.stem.removeprefix("stage1_").replace("_", "-") for p in files)


def merged(base: dict, update: dict) -> dict:
    """``base`` with ``update``'s values, nested sections merged key by key."""
    out = dict(base)
    for key, value in update.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def read_preset(preset: str, chain: tuple[Path, ...] = ()) -> dict:
    """A preset's YAML as a dict, its ``base`` preset (if any) filled in underneath."""
    path = preset_path(preset)
    if not path.is_file():
        raise DataError(path, f"no such stage-1 preset; available: {', '.join(available_presets())}")
    if path in chain:
        raise DataError(path, f"preset inherits from itself: {' -> '.join(p.name for p in (*chain, path))}")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise DataError(path, str(exc)) from None
    base = data.pop("base", None)
    return merged(read_preset(str(base), (*chain, path)), data) if base is not None else data


def load_config(preset: str, overrides: list[str] | tuple[str, ...] = ()) -> Stage1Config:
    """Load a preset, apply overrides, validate. Bad files raise ``DataError`` naming the file."""
    path = preset_path(preset)
    data = read_preset(preset)
    try:
        for override in overrides:
            apply_override(data, override)
        return from_dict(Stage1Config, data)
    except (ValueError, TypeError, yaml.YAMLError) as exc:
        raise DataError(path, str(exc)) from None


def config_from_dict(data: dict) -> Stage1Config:
    """Rebuild a config stored in a checkpoint."""
    return from_dict(Stage1Config, data)
