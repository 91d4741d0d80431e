"""A small split on disk for stage-1 tests: mouth opening follows the audio envelope."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mmgt import keypoints as K
from mmgt.data.layout import ClipRecord, write_clip, write_manifest
from mmgt.video_io import SAMPLE_RATE

SIZE = 64
FRAMES = 80


def speech_like(rng: np.random.Generator, seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """A voiced tone gated by random syllables; returns (16 kHz wav, 25 fps envelope)."""
    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    env = np.zeros(n)
    for start in np.arange(0.0, seconds, 0.25):
        if rng.random() < 0.7:
            length = rng.uniform(0.08, 0.2)
            env += np.exp(-0.5 * ((t - start - length / 2) / (length / 4)) ** 2)
    wav = env * (np.sin(2 * np.pi * 140 * t) + 0.5 * np.sin(2 * np.pi * 280 * t) + 0.05 * rng.standard_normal(n))
    frame_env = env[:: SAMPLE_RATE // 25][: int(seconds * 25)]
    return (0.3 * wav / max(np.abs(wav).max(), 1e-6)).astype(np.float32), frame_env


def talking_pose(rng: np.random.Generator, env: np.ndarray) -> np.ndarray:
    """(T, 134, 3) pixels: fixed skeleton, lips open with the envelope, hands sway."""
    base = rng.uniform(0.3 * SIZE, 0.7 * SIZE, size=(K.NUM_JOINTS, 2))
    kp = np.repeat(np.concatenate([base, np.ones((K.NUM_JOINTS, 1))], -1)[None], len(env), axis=0).astype(np.float32)
    lower_lip = list(range(72 + 6, 72 + 12)) + list(range(72 + 16, 72 + 20))
    kp[:, lower_lip, 1] += 6.0 * env[:, None]
    sway = np.sin(np.linspace(0, 4 * np.pi, len(env)) + rng.uniform(0, 6))
    kp[:, list(K.HANDS), 0] += 4.0 * sway[:, None]
    kp[:, list(K.LOWER_BODY), 2] = 0.0
    return kp


def build_split(root: Path, n_train: int = 6, n_test: int = 2, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    records = []
    for i in range(n_train + n_test):
        split = "train" if i < n_train else "test"
        rec = ClipRecord(f"spk_{i:03d}", split, "spk", f"src{i}", 0.0, 3.2, 0, FRAMES, 25, SIZE, SIZE)
        wav, env = speech_like(rng, FRAMES / 25)
        kp = talking_pose(rng, env)
        frames = np.zeros((FRAMES, SIZE, SIZE, 3), np.uint8)
        write_clip(root, rec, frames, wav, kp)
        records.append(rec)
    write_manifest(root, records, {"generator": "tests/stage1"})
    return root


@pytest.fixture(scope="session")
def mini_split(tmp_path_factory) -> Path:
    return build_split(tmp_path_factory.mktemp("split"))


@pytest.fixture(autouse=True)
def _single_thread():
    torch.set_num_threads(1)
    yield
