"""Everything about a run that can be checked before the expensive work: option values, the folders
it reads and writes, and the weights of its extractors. A run never computes for minutes and then
fails on something knowable at start.

Option problems raise :class:`~mmgt.errors.UsageError` naming the option (exit status 2); path
problems raise :class:`~mmgt.errors.DataError` naming the path (exit status 1).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from eval.protocol import FACE_DETECTORS, FACE_TRACKS, FVD_PROTOCOLS, REGIONS
from mmgt.data.shards import Shard
from mmgt.errors import DataError, UsageError

if TYPE_CHECKING:
    from eval.config import EvalConfig

TRIMS = ("none", "min")


def check_options(config: EvalConfig, all_metrics: tuple[str, ...]) -> None:
    """Metric and region names, trim policy, face tracks, FVD protocol, shard spec and batch size."""
    _names("--metrics", config.metrics, all_metrics)
    _names("--regions", config.regions, REGIONS)
    if config.protocol.trim not in TRIMS:
        raise UsageError("--trim", f"must be one of {', '.join(TRIMS)}, got {config.protocol.trim!r}")
    if config.protocol.face_track not in FACE_TRACKS:
        raise UsageError("--face-track", f"must be one of {', '.join(FACE_TRACKS)}, got {config.protocol.face_track!r}")
    if config.protocol.face_detector not in FACE_DETECTORS:
        raise UsageError("--face-detector", f"must be one of {', '.join(FACE_DETECTORS)}, got {config.protocol.face_detector!r}")
    if config.protocol.fvd_protocol not in FVD_PROTOCOLS:
        raise UsageError("--fvd-protocol", f"must be one of {', '.join(FVD_PROTOCOLS)}, got {config.protocol.fvd_protocol!r}")
    i, n = config.shard
    if not 0 <= i < n:
        raise UsageError("--shard", f"need 0 <= i < N, got {i}/{n}")
    if config.batch_size < 1:
        raise UsageError("--batch-size", f"must be at least 1, got {config.batch_size}")
    if config.bootstrap < 0:
        raise UsageError("--bootstrap", f"must be 0 (no intervals) or more resamples, got {config.bootstrap}")


def _names(option: str, given: tuple[str, ...], valid: tuple[str, ...]) -> None:
    if not given:
        raise UsageError(option, f"no name given; valid: {', '.join(valid)}")
    unknown = [m for m in given if m not in valid]
    if unknown:
        raise UsageError(option, f"unknown {', '.join(unknown)}; valid: {', '.join(valid)}")


def parse_shard(value: str) -> tuple[int, int]:
    """``"i/N"`` -> ``(i, N)``."""
    shard = Shard.parse(value)
    return shard.index, shard.count


def check_writable_folder(path: Path, option: str) -> None:
    """``path`` is a folder, or can be made one (it is never created here)."""
    if path.exists() and not path.is_dir():
        raise DataError(path, f"{option} exists and is not a folder")
    parent = path
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise DataError(parent, f"{option} {path} cannot be made: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise DataError(parent, f"{option}: no permission to write here")


def check_input_folder(path: Path | None, option: str) -> None:
    if path is not None and not path.is_dir():
        raise DataError(path, f"{option}: " + ("is a file, expected a folder" if path.exists() else "folder not found"))


def check_paths(config: EvalConfig, out: Path | None = None) -> None:
    """Folders the run reads (other than --pred/--gt, which discovery checks) and writes."""
    check_input_folder(config.audio, "--audio")
    check_input_folder(config.pred_keypoints, "--pred-keypoints")
    if config.gesture_encoder is not None and not config.gesture_encoder.is_file():
        raise DataError(config.gesture_encoder, "--gesture-encoder: file not found")
    if config.weights_dir is not None and config.weights_dir.exists() and not config.weights_dir.is_dir():
        raise DataError(config.weights_dir, "--weights-dir exists and is not a folder")
    if config.cache_dir is not None:
        check_writable_folder(config.cache_dir, "--cache-dir")
    if out is not None:
        check_writable_folder(out, "--out")
