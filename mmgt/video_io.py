"""Video and audio files: H.264 mp4 with the audio track muxed in, and mono wav.

Every reader validates what it reads and raises :class:`~mmgt.errors.DataError` naming the file.
Every writer writes to a temporary file in the destination folder and renames it into place, so
an interrupted run never leaves a truncated file behind.
"""

from __future__ import annotations

import math
import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import av
import numpy as np
import soundfile as sf

from mmgt.errors import DataError

FPS = 25
SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video stream."""

    fps: float
    n_frames: int
    width: int
    height: int
    has_audio: bool


@contextmanager
def atomic_path(path: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` when the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=suffix or path.suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; give them the usual permissions
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _open(path: Path) -> av.container.InputContainer:
    if not path.is_file():
        raise DataError(path, "file not found")
    if path.stat().st_size == 0:
        raise DataError(path, "empty file (0 bytes)")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise DataError(path, f"not a readable video: truncated, corrupt or another format ({exc.__class__.__name__})") from None
    if not container.streams.video:
        container.close()
        raise DataError(path, "contains no video stream")
    return container


def probe(path: str | Path) -> VideoInfo:
    """Container metadata of a video, without decoding it."""
    path = Path(path)
    with _open(path) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or 0
        return VideoInfo(
            fps=float(rate),
            n_frames=int(stream.frames),
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            has_audio=bool(container.streams.audio),
        )


class FrameRateError(DataError):
    """A video's frame rate is not the one asked for."""


@dataclass(frozen=True)
class Retiming:
    """How :func:`read_video_at_fps` retimed a video: its own rate, frame count and whether it was variable."""

    fps: float
    n_frames: int
    variable: bool

    def to_dict(self) -> dict:
        return {"fps": round(self.fps, 3), "frames": self.n_frames, "variable_rate": self.variable}


def _decode(path: Path) -> tuple[np.ndarray, np.ndarray, float, int]:
    """All frames ``(T, H, W, 3)`` uint8 RGB, their presentation times (s), the declared rate and frame count."""
    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        fps = float(stream.average_rate or stream.guessed_rate or 0)
        declared = int(stream.frames)  # read while the container is open (freed after the block)
        frames, times = [], []
        try:
            for frame in container.decode(stream):
                frames.append(frame.to_ndarray(format="rgb24"))
                times.append(float(frame.time) if frame.time is not None else math.nan)
        except av.error.FFmpegError as exc:
            raise DataError(path, f"corrupt video stream ({exc.__class__.__name__})") from None
    if not frames:
        raise DataError(path, "video has no decodable frames")
    if declared and len(frames) < declared:
        raise DataError(path, f"decoded {len(frames)} of {declared} frames (truncated file)")
    return np.stack(frames), np.asarray(times), fps, declared


def read_video(
    path: str | Path,
    *,
    expect_fps: float | None = FPS,
    expect_size: tuple[int, int] | None = None,
    expect_frames: int | None = None,
) -> np.ndarray:
    """Decode all frames as ``(T, H, W, 3)`` uint8 RGB, checking fps, ``(w, h)`` and frame count."""
    path = Path(path)
    if expect_fps is not None:
        fps = probe(path).fps
        if abs(fps - expect_fps) > 1e-3:
            raise FrameRateError(path, f"frame rate is {fps:g} fps, expected {expect_fps:g}")
    video = _decode(path)[0]
    height, width = video.shape[1:3]
    if expect_size is not None and (width, height) != tuple(expect_size):
        raise DataError(path, f"frame size is {width}x{height}, expected {expect_size[0]}x{expect_size[1]}")
    if expect_frames is not None and len(video) != expect_frames:
        raise DataError(path, f"has {len(video)} frames, expected {expect_frames} (truncated or wrong length)")
    return video


def retime(frames: np.ndarray, times: np.ndarray, fps: float) -> np.ndarray:
    """Frames on a constant ``fps`` grid: output frame ``i`` is the frame shown at ``i / fps`` (the nearest
    presentation time; ties to the earlier frame), for the source's whole duration (its last frame lasts
    its median frame interval)."""
    times = times - times[0]
    step = float(np.median(np.diff(times))) if len(times) > 1 else 1.0 / fps
    grid = np.arange(max(1, int(round((times[-1] + step) * fps)))) / fps
    return frames[np.abs(grid[:, None] - times[None, :]).argmin(axis=1)]


def read_video_at_fps(path: str | Path, fps: float) -> tuple[np.ndarray, Retiming | None]:
    """Decode all frames and retime them to ``fps`` by their timestamps (:func:`retime`) when the video has
    another or a variable frame rate; the :class:`Retiming` is None when the video already is at ``fps``."""
    path = Path(path)
    frames, times, declared_fps, _ = _decode(path)
    if not np.isfinite(times).all():
        raise DataError(path, "frames without timestamps: cannot retime")
    intervals = np.diff(times)
    variable = len(intervals) > 1 and float(intervals.max() - intervals.min()) > 0.5 / max(declared_fps, fps)
    if not variable and abs(declared_fps - fps) <= 1e-3:
        return frames, None
    return retime(frames, times, fps), Retiming(declared_fps, len(frames), variable)


def write_video(
    path: str | Path,
    frames: np.ndarray,
    *,
    fps: int = FPS,
    audio: np.ndarray | None = None,
    sample_rate: int = SAMPLE_RATE,
    crf: int = 12,
) -> Path:
    """Encode ``(T, H, W, 3)`` uint8 RGB frames as H.264 (yuv420p), muxing mono ``audio`` as AAC.

    Encoding is single-threaded, so the same frames always give the same bytes.
    """
    path = Path(path)
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be (T, H, W, 3) uint8, got {frames.shape} {frames.dtype}")
    height, width = frames.shape[1:3]
    if width % 2 or height % 2:
        raise ValueError(f"H.264 yuv420p needs even frame sizes, got {width}x{height}")
    with atomic_path(path) as tmp, av.open(str(tmp), "w", format="mp4") as container:
        video = container.add_stream("libx264", rate=Fraction(fps))
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"crf": str(crf), "preset": "medium", "threads": "1"}
        container.metadata["comment"] = "mmgt-bench"
        if audio is not None:
            sound = container.add_stream("aac", rate=sample_rate)
            sound.layout = "mono"
        for frame in frames:
            container.mux(video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(video.encode())
        if audio is not None:
            samples = np.ascontiguousarray(np.asarray(audio, dtype=np.float32).reshape(1, -1))
            chunk = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
            chunk.sample_rate = sample_rate
            container.mux(sound.encode(chunk))
            container.mux(sound.encode(None))
    return path


def read_audio(path: str | Path, sample_rate: int | None = SAMPLE_RATE) -> np.ndarray:
    """Read a wav (or any soundfile format) as mono float32, resampled to ``sample_rate``."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "file not found")
    try:
        wav, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise DataError(path, f"not a readable audio file ({exc})") from None
    wav = wav.mean(axis=1)
    if wav.size == 0:
        raise DataError(path, "audio file is empty")
    if not np.isfinite(wav).all():
        raise DataError(path, "audio contains NaN or infinite samples")
    if sample_rate is not None and sr != sample_rate:
        wav = resample(wav, sr, sample_rate)
    return wav


def resample(wav: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Polyphase resampling of a mono signal (scipy, deterministic)."""
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(sr_in, sr_out)
    return resample_poly(wav, sr_out // g, sr_in // g).astype(np.float32)


def write_audio(path: str | Path, wav: np.ndarray, sample_rate: int = SAMPLE_RATE) -> Path:
    """Write mono float audio as 16-bit PCM wav, atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        sf.write(str(tmp), np.asarray(wav, dtype=np.float32), sample_rate, subtype="PCM_16", format="WAV")
    return path
