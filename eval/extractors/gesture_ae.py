"""The gesture autoencoder whose latent space FGD and Div are measured in (ours; trained by
:mod:`eval.gesture_train` on a split's training keypoints).

Input, per window of ``window`` frames (default 80 = one clip, the unit stage 1 generates, as
Yoon et al.'s FGD encodes the 34-frame unit their model generates):

- joints: the upper body (OpenPose-18 without knees and ankles: 14), both hands (42) and the face
  (68) of the 134 layout, in that order; x and y only (124 x 2 = 248 channels per frame);
- normalisation per clip (sequence): minus the mean of its valid neck positions, divided by its
  median valid shoulder width (|joint 2 - joint 5| on frames where both shoulders are valid);
  without a valid neck the frame centre is used, without valid shoulders a third of the shorter
  frame side;
- joints with score <= 0.3 are written as 0 (after normalisation).

A clip longer than the window is covered by ``ceil(T / window)`` evenly spaced windows and
represented by the mean of their latents. Network: 1D temporal convolutions (stride-2 steps)
to a ``latent_dim`` vector, mirrored by the decoder; no normalisation layers, so a window's latent
does not depend on what else is in the batch. Windows are encoded one at a time, so the features
are bitwise identical whatever the batch size or clip order.

Checkpoint: one ``torch.save`` dict (``format``, ``version``, ``config``, ``state_dict``,
``training``), loadable with ``weights_only=True``; its file sha256 is the extractor's weights id.
"""

from __future__ import annotations

import io

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Self

import numpy as np
import torch
from torch import nn

from eval.extractors.base import RANDOM_INIT, Extractor
from mmgt import keypoints as K
from mmgt.errors import DataError, MMGTError, WeightsMissingError
from mmgt.weights import WeightsStore, sha256_file

CHECKPOINT_FORMAT = "mmgt-gesture-ae"
CHECKPOINT_VERSION = 1
DEFAULT_CHECKPOINT = "gesture_ae.pt"  # looked up in the weights dir when no path is given
NECK, R_SHOULDER, L_SHOULDER = 1, 2, 5
FALLBACK_SCALE = 1 / 3  # of the shorter frame side, when no frame has both shoulders


@dataclass(frozen=True)
class GestureAEConfig:
    """Architecture and input definition; recorded in every checkpoint."""

    regions: tuple[str, ...] = ("upper_body", "left_hand", "right_hand", "face")
    window: int = 80
    channels: tuple[int, ...] = (32, 64, 64, 64)  # first conv, then one stride-2 step per extra entry
    latent_dim: int = 32
    threshold: float = K.SCORE_THRESHOLD

    def __post_init__(self) -> None:
        for name in self.regions:
            K.region(name)
        if self.window % self.downsampling:
            raise ValueError(f"window {self.window} must be divisible by {self.downsampling} (2 ** stride-2 steps)")

    @property
    def joints(self) -> tuple[int, ...]:
        return tuple(j for name in self.regions for j in K.region(name))

    @property
    def in_channels(self) -> int:
        return 2 * len(self.joints)

    @property
    def downsampling(self) -> int:
        return 2 ** (len(self.channels) - 1)

    def describe(self) -> str:
        """The preprocessing string recorded in results and cache keys."""
        return (f"joints={'+'.join(self.regions)}({len(self.joints)}) window={self.window} "
                f"xy per clip minus mean valid neck, / median shoulder width; score<={self.threshold} -> 0")

    @classmethod
    def from_dict(cls, d: dict) -> GestureAEConfig:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


# ----- input features ----------------------------------------------------------------------
def _masked_median(values: np.ndarray, ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median over the last axis of the entries where ``ok``, and whether any entry was ``ok``."""
    count = ok.sum(-1)
    ordered = np.sort(np.where(ok, values, np.inf), axis=-1)
    lo = np.take_along_axis(ordered, (np.maximum(count - 1, 0) // 2)[..., None], -1)[..., 0]
    hi = np.take_along_axis(ordered, (count // 2)[..., None], -1)[..., 0]
    return np.where(count > 0, (lo + hi) / 2, 0.0), count > 0


def normalise(kp: np.ndarray, size: tuple[int, int] | np.ndarray, config: GestureAEConfig) -> np.ndarray:
    """``(N, T, 134, 3)`` pixel keypoint clips -> ``(N, T, J, 2)`` normalised x, y of ``config.joints``.

    ``size`` is the ``(w, h)`` frame of all clips, or an ``(N, 2)`` array of one per clip.
    """
    kp = np.asarray(kp)
    size = np.broadcast_to(np.asarray(size, dtype=np.float64), (len(kp), 2))
    anchors = _valid_xy(kp, [NECK, R_SHOULDER, L_SHOULDER], config.threshold)
    (neck, r_sh, l_sh), (neck_ok, r_ok, l_ok) = anchors[0].transpose(2, 0, 1, 3), anchors[1].transpose(2, 0, 1)
    n_neck = neck_ok.sum(-1, keepdims=True)
    centre = np.where(n_neck > 0, neck.sum(-2) / np.maximum(n_neck, 1), size / 2)
    width, has_width = _masked_median(np.linalg.norm(r_sh - l_sh, axis=-1), r_ok & l_ok)
    scale = np.where(has_width & (width > 1e-3), width, size.min(-1) * FALLBACK_SCALE)
    xy, ok = _valid_xy(kp, list(config.joints), config.threshold)
    out = (xy - centre[:, None, None, :]) / scale[:, None, None, None]
    return (out * ok[..., None]).astype(np.float32)


def _valid_xy(kp: np.ndarray, joints: list[int], threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """``(..., J, 2)`` x, y of ``joints`` with invalid ones (low score or non-finite) zeroed, and their validity."""
    x, y, score = np.moveaxis(kp, -1, 0)[..., joints].astype(np.float64)  # planes: faster than (..., 3) slices
    ok = (score > threshold) & np.isfinite(x) & np.isfinite(y)
    return np.stack([np.where(ok, x, 0.0), np.where(ok, y, 0.0)], axis=-1), ok


def window_starts(n_frames: int, window: int) -> np.ndarray:
    """Starts of ``ceil(n_frames / window)`` evenly spaced windows covering ``n_frames``."""
    if n_frames < window:
        raise ValueError(f"a sequence of {n_frames} frames is shorter than the encoder window ({window})")
    count = math.ceil(n_frames / window)
    return np.rint(np.linspace(0, n_frames - window, count)).astype(np.int64)


def to_input(clips: np.ndarray, size: tuple[int, int] | np.ndarray, config: GestureAEConfig) -> torch.Tensor:
    """``(N, T, 134, 3)`` pixel clips of ``size`` frames (see :func:`normalise`) -> network input ``(N, 2J, T)``."""
    x = normalise(clips, size, config)
    return torch.from_numpy(x.reshape(*x.shape[:2], -1)).transpose(1, 2).contiguous()


# ----- network -----------------------------------------------------------------------------
class GestureAutoencoder(nn.Module):
    """Temporal 1D-conv encoder to one latent vector per window, and its mirrored decoder."""

    def __init__(self, config: GestureAEConfig = GestureAEConfig()):
        super().__init__()
        self.config = config
        ch = config.channels
        self.steps = config.window // config.downsampling
        act = nn.LeakyReLU(0.2)
        down = [m for a, b in zip(ch, ch[1:]) for m in (nn.Conv1d(a, b, 4, stride=2, padding=1), act)]
        self.encoder = nn.Sequential(
            nn.Conv1d(config.in_channels, ch[0], 3, padding=1), act, *down,
            nn.Flatten(), nn.Linear(ch[-1] * self.steps, config.latent_dim),
        )
        rev = ch[::-1]
        up = [m for a, b in zip(rev, rev[1:]) for m in (nn.ConvTranspose1d(a, b, 4, stride=2, padding=1), act)]
        self.decoder = nn.Sequential(
            nn.Linear(config.latent_dim, ch[-1] * self.steps), act, nn.Unflatten(1, (ch[-1], self.steps)), *up,
            nn.Conv1d(ch[0], config.in_channels, 3, padding=1),
        )

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


def save_checkpoint(path: Path, model: GestureAutoencoder, training: dict) -> None:
    """Write the versioned checkpoint dict to ``path`` (callers make it atomic)."""
    # through a buffer: a file's zip archive is named after the (temporary) file, which would make
    # the bytes, and so the sha256 recorded in results, differ between identical trainings
    buffer = io.BytesIO()
    torch.save({"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "config": asdict(model.config),
                "state_dict": model.state_dict(), "training": training}, buffer)
    Path(path).write_bytes(buffer.getvalue())


def read_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> tuple[GestureAutoencoder, dict, str]:
    """The autoencoder of a checkpoint, its ``training`` record and the file's sha256."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "gesture encoder checkpoint not found "
                              "(train one with `mmgt-eval train-gesture-encoder --data DIR --out PATH`)")
    try:
        ckpt = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # torch raises several unpickling/zip error types for a bad file
        raise DataError(path, f"not a readable gesture encoder checkpoint ({exc.__class__.__name__})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise DataError(path, f"not a {CHECKPOINT_FORMAT} checkpoint")
    if ckpt.get("version") != CHECKPOINT_VERSION:
        raise DataError(path, f"checkpoint version {ckpt.get('version')} is not the supported {CHECKPOINT_VERSION}")
    model = GestureAutoencoder(GestureAEConfig.from_dict(ckpt["config"]))
    model.load_state_dict(ckpt["state_dict"])
    return model.to(device).eval(), ckpt["training"], sha256_file(path)


class GestureEncoderMissingError(WeightsMissingError):
    """No trained gesture encoder where one was expected; it is trained here, not downloaded."""

    def __init__(self, path: Path):
        self.name, self.path, self.url = "gesture-ae", path, "trained locally"
        MMGTError.__init__(self, f"missing gesture encoder: expected {path}; train it with "
                                 f"`mmgt-eval train-gesture-encoder --data DIR --out {path}`")


# ----- extractor ---------------------------------------------------------------------------
class GestureExtractor(Extractor):
    """Per-clip latents of the gesture autoencoder's encoder (the features of FGD and Div)."""

    name = "gesture_ae"
    preprocessing = GestureAEConfig().describe()

    def __init__(self, model: GestureAutoencoder, weights: str, source: str, device: str | torch.device = "cpu"):
        super().__init__(model, weights, source, device)
        self.config = model.config
        self.preprocessing = model.config.describe()

    @property
    def dim(self) -> int:
        return self.config.latent_dim

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str | torch.device = "cpu") -> Self:
        model, _, digest = read_checkpoint(path, device)
        return cls(model, digest, str(path), device)

    @classmethod
    def from_weights(cls, store: WeightsStore, device: str | torch.device = "cpu") -> Self:
        path = store.root / DEFAULT_CHECKPOINT
        if not path.is_file():
            raise GestureEncoderMissingError(path)
        return cls.from_checkpoint(path, device)

    @classmethod
    def random_init(cls, device: str | torch.device = "cpu") -> Self:
        return cls(GestureAutoencoder(), RANDOM_INIT, RANDOM_INIT, device)

    @torch.no_grad()
    def features(self, keypoints: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """``(N, T, 134, 3)`` pixel keypoints of ``(w, h)`` frames -> ``(N, latent_dim)`` float32."""
        K.check_shape(keypoints)
        if keypoints.ndim != 4:
            raise ValueError(f"features take (N, T, 134, 3) keypoints, got {keypoints.shape}")
        window = self.config.window
        starts = window_starts(keypoints.shape[1], window)
        x = to_input(keypoints, size, self.config).to(self.device)
        out = np.empty((len(keypoints), self.dim), dtype=np.float32)
        for i, clip in enumerate(x):
            out[i] = torch.cat([self.net.encode(clip[None, :, s:s + window]) for s in starts]).mean(0).cpu().numpy()
        return out


def build(checkpoint: str | Path | None = None, *, weights_dir: str | Path | None = None,
          allow_untrained: bool = False, device: str | torch.device = "cpu", seed: int = 0) -> GestureExtractor:
    """The gesture extractor from ``checkpoint`` (an explicit path must exist), else from the weights
    dir's ``gesture_ae.pt``, else (only with ``allow_untrained``) a seeded random init."""
    if checkpoint is not None:
        return GestureExtractor.from_checkpoint(checkpoint, device)
    return GestureExtractor.load(WeightsStore(weights_dir), allow_untrained=allow_untrained, device=device, seed=seed)


__all__ = [
    "GestureAEConfig", "GestureAutoencoder", "GestureEncoderMissingError", "GestureExtractor", "build",
    "normalise", "read_checkpoint", "save_checkpoint", "to_input", "window_starts",
]
