"""Reading and validating the input files of one clip pair: the one code path that both the
evaluation loop and ``mmgt-eval check`` go through, so they cannot disagree about a clip.

Every file of a pair is read and checked against the data contract and the protocol: both videos
(decodable, protocol fps), matching frame counts (or the protocol's trim), keypoints whenever a
side has them (shape, frame count, finite), and the driving audio when lip sync is scored. Frames
of any other size are resized to the protocol size (the protocol's policy); the source sizes are
returned so that the run can report them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TypeVar

import numpy as np

from eval.protocol import Protocol
from eval.regions import resize_frames
from mmgt.data.layout import load_keypoints
from mmgt.errors import DataError
from mmgt.video_io import SAMPLE_RATE, FrameRateError, read_audio, read_video, read_video_at_fps

T = TypeVar("T")
Size = tuple[int, int]  # (width, height)


@dataclass
class ClipInputs:
    """One pair's validated inputs, frames and keypoints at the protocol size."""

    pred_frames: np.ndarray
    gt_frames: np.ndarray
    pred_size: Size  # source (w, h)
    gt_size: Size
    gt_keypoints: np.ndarray | None
    pred_keypoints: np.ndarray | None
    audio: np.ndarray | None  # 16 kHz mono, when asked for
    resampled: dict | None = None  # the prediction's own frame rate and frame count when it was retimed


@dataclass(frozen=True)
class PairFiles:
    """The files one pair is read from (paths resolved by the evaluator)."""

    pred_video: Path
    gt_video: Path
    pred_keypoints: Path | None = None
    gt_keypoints: Path | None = None
    audio: Path | None = None  # None: not needed


def resize_note(pred_size: Size, gt_size: Size, size: int) -> dict | None:
    """Per-clip record of frames resized to the protocol's ``size`` x ``size`` (None when neither side is)."""
    if pred_size == (size, size) and gt_size == (size, size):
        return None
    note: dict = {"pred": list(pred_size), "gt": list(gt_size), "to": [size, size]}
    changed = [side for side, (w, h) in (("pred", pred_size), ("gt", gt_size)) if w != h]
    if changed:
        note["aspect_changed"] = changed  # the protocol size is square: non-square frames are stretched
    return note


def read_pair(files: PairFiles, protocol: Protocol, problems: list[DataError] | None = None) -> ClipInputs | None:
    """Read and validate every file of a pair.

    Without ``problems``, the first problem raises :class:`DataError`. With a list, every problem
    found is appended to it (checking goes on past the first) and None is returned if there was any.
    """
    collected: list[DataError] = []

    def attempt(read: Callable[[], T]) -> T | None:
        try:
            return read()
        except DataError as err:
            if problems is None:
                raise
            collected.append(err)
            return None

    gt_frames = attempt(lambda: read_video(files.gt_video, expect_fps=protocol.fps))
    pred_read = attempt(lambda: _read_prediction(files.pred_video, protocol))
    pred_frames, retiming = pred_read if pred_read is not None else (None, None)
    n = None
    if gt_frames is not None and pred_frames is not None:
        n = attempt(lambda: _frame_count(files.pred_video, len(pred_frames), len(gt_frames), protocol.trim))
    gt_kp = attempt(lambda: _keypoints(files.gt_keypoints, gt_frames))
    pred_kp = attempt(lambda: _keypoints(files.pred_keypoints, pred_frames))
    audio = attempt(lambda: read_audio(files.audio, SAMPLE_RATE)) if files.audio is not None else None
    if problems is not None:
        problems += collected
    if collected or n is None:
        return None
    sizes = (pred_frames.shape[2], pred_frames.shape[1]), (gt_frames.shape[2], gt_frames.shape[1])
    return ClipInputs(
        pred_frames=resize_frames(pred_frames[:n], protocol.size), gt_frames=resize_frames(gt_frames[:n], protocol.size),
        pred_size=sizes[0], gt_size=sizes[1],
        gt_keypoints=_to_protocol(gt_kp, n, sizes[1], protocol.size),
        pred_keypoints=_to_protocol(pred_kp, n, sizes[0], protocol.size),
        audio=audio, resampled=retiming,
    )


def _read_prediction(path: Path, protocol: Protocol) -> tuple[np.ndarray, dict | None]:
    """The prediction's frames at the protocol's fps: another rate is refused, or retimed with ``fps_resample``
    (nearest frame on GT's timeline; variable rates by their timestamps)."""
    if protocol.fps_resample:
        frames, retiming = read_video_at_fps(path, protocol.fps)
        return frames, retiming and retiming.to_dict()
    try:
        return read_video(path, expect_fps=protocol.fps), None
    except FrameRateError as err:
        raise DataError(path, f"{err.problem}; --fps-resample retimes it to {protocol.fps} fps by nearest frame") from None


def _frame_count(pred_video: Path, n_pred: int, n_gt: int, trim: str) -> int:
    if n_pred != n_gt and trim != "min":
        raise DataError(pred_video, f"has {n_pred} frames, GT has {n_gt} (protocol trim: {trim}; --trim min scores the shorter length)")
    return min(n_pred, n_gt)


def _keypoints(path: Path | None, frames: np.ndarray | None) -> np.ndarray | None:
    """A side's keypoints checked against its own frame count (any count when its video failed)."""
    if path is None:
        return None
    return load_keypoints(path, None if frames is None else len(frames))


def _to_protocol(kp: np.ndarray | None, n: int, src_size: Size, size: int) -> np.ndarray | None:
    """Pixel keypoints of the first ``n`` frames, rescaled from the source frame size to the protocol size."""
    if kp is None:
        return None
    kp = kp[:n].copy()
    kp[..., :2] *= size / np.array(src_size, np.float32)
    return kp
