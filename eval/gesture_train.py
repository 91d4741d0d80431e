"""Training the gesture autoencoder of FGD/Div on a split's training keypoints.

Each sequence is normalised once (:func:`eval.extractors.gesture_ae.normalise`); each step draws
``batch_size`` windows uniformly over every (sequence, start frame) position and minimises the
mean squared reconstruction error with Adam. Everything random comes from ``seed`` (weights from torch's
generator, window draws from numpy's), so a seed gives the same checkpoint on the same machine.
The checkpoint records the config, the state dict, the sha256 of the training data (keypoint
bytes, shapes and frame sizes, in order), the seed and settings, and the loss curve.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from eval.extractors.base import seeded
from eval.extractors.gesture_ae import GestureAEConfig, GestureAutoencoder, read_checkpoint, save_checkpoint, to_input
from mmgt import keypoints as K
from mmgt.data.layout import Split
from mmgt.errors import DataError
from mmgt.video_io import atomic_path

LOSS_CURVE_POINTS = 10  # the loss curve records the mean loss of this many equal parts of training


@dataclass(frozen=True)
class TrainSettings:
    """Optimisation settings (recorded in the checkpoint)."""

    steps: int = 1000
    batch_size: int = 32
    lr: float = 1e-3
    seed: int = 0

    def __post_init__(self) -> None:
        if self.steps < LOSS_CURVE_POINTS or self.batch_size < 1 or self.lr <= 0:
            raise ValueError(f"need steps >= {LOSS_CURVE_POINTS}, batch_size >= 1 and lr > 0, got {self}")


@dataclass(frozen=True)
class KeypointSequence:
    """One keypoint sequence ``(T, 134, 3)`` in pixels of a ``(w, h)`` frame."""

    keypoints: np.ndarray
    size: tuple[int, int]


def split_sequences(root: str | Path, split: str = "train") -> list[KeypointSequence]:
    """The keypoints of a split's clips (sorted by clip id), validated by the data layout."""
    clips = Split(root).clips(split)
    return [KeypointSequence(c.keypoints(), (c.record.width, c.record.height)) for c in clips]


def data_hash(sequences: Sequence[KeypointSequence]) -> str:
    """sha256 over every sequence's shape, frame size and float32 keypoint bytes, in order."""
    digest = hashlib.sha256()
    for seq in sequences:
        kp = np.ascontiguousarray(seq.keypoints, dtype=np.float32)
        digest.update(f"{kp.shape}|{tuple(seq.size)}|".encode())
        digest.update(kp.tobytes())
    return digest.hexdigest()


def _positions(sequences: Sequence[KeypointSequence], window: int) -> np.ndarray:
    """``(n, 2)`` every (sequence index, start frame) of a full window."""
    for i, seq in enumerate(sequences):
        if len(seq.keypoints) < window:
            raise ValueError(f"sequence {i} has {len(seq.keypoints)} frames, fewer than the window ({window})")
    return np.array([(i, s) for i, seq in enumerate(sequences) for s in range(len(seq.keypoints) - window + 1)])


def train_gesture_encoder(
    data: str | Path | Sequence[np.ndarray],
    out_path: str | Path,
    *,
    size: tuple[int, int] | None = None,
    settings: TrainSettings = TrainSettings(),
    config: GestureAEConfig = GestureAEConfig(),
) -> Path:
    """Train on a split root's ``train`` keypoints, or on ``(T, 134, 3)`` arrays of ``size`` frames;
    write the checkpoint atomically to ``out_path`` and return it."""
    if isinstance(data, (str, Path)):
        sequences, source = split_sequences(data), str(data)
        if not sequences:
            raise DataError(data, "the split has no train clips to train the gesture encoder on")
    else:
        if size is None:
            raise ValueError("keypoint arrays need the (w, h) frame size they are measured on")
        for kp in data:
            K.check_shape(kp)
        sequences, source = [KeypointSequence(np.asarray(kp), tuple(size)) for kp in data], "arrays"
        if not sequences:
            raise ValueError("no keypoint arrays to train the gesture encoder on")
    positions = _positions(sequences, config.window)
    inputs = [to_input(seq.keypoints[None], seq.size, config)[0] for seq in sequences]
    rng = np.random.default_rng(settings.seed)
    with seeded(settings.seed):
        model = GestureAutoencoder(config)
    optimiser = torch.optim.Adam(model.parameters(), lr=settings.lr)
    losses = np.empty(settings.steps)
    model.train()
    for step in range(settings.steps):
        picks = positions[rng.integers(len(positions), size=settings.batch_size)]
        x = torch.stack([inputs[i][:, s:s + config.window] for i, s in picks])
        loss = torch.nn.functional.mse_loss(model(x), x)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses[step] = loss.item()
    model.eval()
    training = asdict(settings) | {
        "data": source, "data_hash": data_hash(sequences), "n_sequences": len(sequences),
        "n_windows": len(positions), "loss_curve": [float(c.mean()) for c in np.array_split(losses, LOSS_CURVE_POINTS)],
        "torch": str(torch.__version__),
    }
    out_path = Path(out_path)
    with atomic_path(out_path) as tmp:
        save_checkpoint(tmp, model, training)
    return out_path


def load_gesture_encoder(path: str | Path, device: str | torch.device = "cpu") -> tuple[GestureAutoencoder, str]:
    """The trained autoencoder (eval mode) and the checkpoint file's sha256."""
    model, _, digest = read_checkpoint(path, device)
    return model, digest
