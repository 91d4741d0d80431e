"""What an evaluation run depends on: the metric families and :class:`EvalConfig`.

Kept free of torch and the extractors so that the CLI parses and validates its options at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from eval.protocol import Protocol

FRAME_METRICS = ("psnr", "ssim", "lpips")
VIDEO_METRICS = ("fid", "fvd", "kvd")
LANDMARK_METRICS = ("mouth_lmd", "lip_audio", "pose_error")  # this project's additions (MediaPipe landmarks)
# what half-body papers report since 2024 (docs/PROTOCOL.md): offline variants, then those needing downloaded weights
HUMAN_METRICS = ("jitter", "beat_align", "hkc_mp", "csim_dlib")
HUMAN_WEIGHTS_METRICS = ("hkc", "csim")  # DWPose / ArcFace ONNX: no random init, so only on request (--metrics)
ALL_METRICS = FRAME_METRICS + VIDEO_METRICS + ("sync", "fgd") + LANDMARK_METRICS + HUMAN_METRICS + HUMAN_WEIGHTS_METRICS
DEFAULT_METRICS = tuple(m for m in ALL_METRICS if m not in HUMAN_WEIGHTS_METRICS)
# clip-bootstrap resamples: at 1000 the Monte-Carlo error of the 95% interval's endpoints is ~5% of
# its half-width (docs/PROTOCOL.md, Uncertainty); 0 turns the intervals off
BOOTSTRAP_B = 1000


@dataclass
class EvalConfig:
    """Everything an evaluation run depends on (the CLI and the API share these defaults)."""

    pred: Path
    gt: Path
    audio: Path | None = None  # folder of <id>.wav or <id>/audio.wav; default: GT's audio, else pred's
    pred_keypoints: Path | None = None  # folder of <id>.npy / <id>/keypoints.npy written by the method
    metrics: tuple[str, ...] = DEFAULT_METRICS
    regions: tuple[str, ...] = ("full", "face")
    protocol: Protocol = field(default_factory=Protocol)
    split: str = "test"
    cache_dir: Path | None = Path("cache/eval")
    weights_dir: Path | None = None
    allow_untrained: bool = False
    allow_missing: bool = False
    gesture_encoder: Path | None = None
    shard: tuple[int, int] = (0, 1)
    device: str = "cpu"
    batch_size: int = 32
    progress: bool = True
    reuse_memory: bool = True  # keep freed memory mapped (mmgt.memory): ~20% faster forwards, RSS stays at its peak
    bootstrap: int = BOOTSTRAP_B  # clip-bootstrap resamples for the intervals (eval/bootstrap.py); 0: none
    bootstrap_seed: int = 0
