"""Reading one interval of a long source video, re-timed to 25 fps, with its audio at 16 kHz.

Output frame ``k`` shows the source frame whose timestamp is nearest to ``start + k / fps`` (the
rounding of ffmpeg's ``fps`` filter), so any source rate, constant or variable, maps onto the
25 fps timeline with at most half a source frame of timing error. Timestamps are measured from the
container's start time, the origin interval times refer to. Frames are transformed (cropped,
resized) as they are decoded, so a long full-HD interval never sits in memory at full size; several
transforms (say two output sizes) share one decode.

Audio is decoded with PyAV, mixed to mono, cut at the same start time and resampled with
:func:`mmgt.video_io.resample`; its length is exactly ``n_frames * sample_rate / fps``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import av
import numpy as np

from mmgt.errors import DataError
from mmgt.video_io import FPS, SAMPLE_RATE, probe, resample

Transform = Callable[[np.ndarray], np.ndarray]
SEEK_MARGIN_S = 1.0  # seek this far before the start: the demuxer lands on the keyframe before it


@dataclass(frozen=True)
class IntervalMedia:
    """An interval on the output timeline: frames ``(n, H, W, 3)`` uint8 (one array per transform) and
    mono float32 audio."""

    frames: tuple[np.ndarray, ...]
    audio: np.ndarray
    source_fps: float


def _origin(container: av.container.InputContainer) -> float:
    return (container.start_time or 0) / av.time_base


def _decoded(path: Path, kind: str, start: float, stop: float) -> Iterator[tuple[float, av.frame.Frame]]:
    """``(time, frame)`` of one stream's frames from just before ``start`` up to ``stop``."""
    try:
        with av.open(str(path)) as container:
            streams = container.streams.video if kind == "video" else container.streams.audio
            if not streams:
                raise DataError(path, f"has no {kind} track")
            stream, origin = streams[0], _origin(container)
            stream.thread_type = "AUTO"
            container.seek(int((origin + max(start - SEEK_MARGIN_S, 0.0)) * av.time_base))
            for frame in container.decode(stream):
                if frame.time is None:
                    continue
                t = frame.time - origin
                if t > stop:
                    break
                yield t, frame
    except av.error.FFmpegError as exc:
        raise DataError(path, f"corrupt media stream ({exc.__class__.__name__})") from None


def read_video_interval(
    path: Path, start: float, n_frames: int, *, fps: int = FPS, transforms: Sequence[Transform | None] = (None,)
) -> tuple[tuple[np.ndarray, ...], float]:
    """Frames of ``[start, start + n_frames / fps)`` re-timed to ``fps``; stops early where the video ends.

    Returns the frames as each of ``transforms`` (None: as decoded) makes them, and the source frame rate.
    """
    info = probe(path)
    period = 1.0 / info.fps if info.fps > 0 else 1.0 / fps
    targets = start + np.arange(n_frames) / fps
    times, kept = [], []
    for t, frame in _decoded(path, "video", start - period, targets[-1] + period):
        if t < start - period:
            continue
        image = frame.to_ndarray(format="rgb24")
        times.append(t)
        kept.append([transform(image) if transform else image for transform in transforms])
    if not kept:
        raise DataError(path, f"no video frames at {start:.2f} s (past the end of the video?)")
    times_arr = np.asarray(times)
    nearest = np.abs(times_arr[None, :] - targets[:, None]).argmin(axis=1)
    n_ok = int(np.searchsorted(targets, times_arr[-1] + period - 1e-6))  # targets before the video ends
    if n_ok == 0 or times_arr[0] > start + period:
        raise DataError(path, f"no video frame near {start:.2f} s")
    chosen = nearest[:n_ok]
    return tuple(np.stack([kept[i][k] for i in chosen]) for k in range(len(transforms))), info.fps


def read_audio_interval(
    path: Path, start: float, n_frames: int, *, fps: int = FPS, sample_rate: int = SAMPLE_RATE
) -> np.ndarray:
    """Mono audio of ``[start, start + n_frames / fps)`` at ``sample_rate``, exactly ``n_frames`` long.

    Raises ``DataError`` when the track has no sound for more than one video frame of the interval.
    """
    duration = n_frames / fps
    to_mono = av.AudioResampler(format="flt", layout="mono")
    chunks, first, source_rate = [], None, None
    for t, frame in _decoded(path, "audio", start, start + duration):
        source_rate = frame.sample_rate
        if first is None:
            first = t
        chunks.extend(f.to_ndarray().reshape(-1) for f in to_mono.resample(frame))
    if first is None:
        raise DataError(path, f"no audio at {start:.2f} s")
    samples = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    offset = round((start - first) * source_rate)
    if offset < 0:
        samples, offset = np.concatenate([np.zeros(-offset, np.float32), samples]), 0
    need = math.ceil(duration * source_rate)
    piece = samples[offset:offset + need]
    if need - len(piece) > source_rate / fps:
        raise DataError(path, f"audio track ends {(need - len(piece)) / source_rate:.2f} s before the interval does")
    wav = resample(np.pad(piece, (0, need - len(piece))), source_rate, sample_rate)
    target = round(duration * sample_rate)
    return np.pad(wav, (0, max(0, target - len(wav))))[:target].astype(np.float32)


def read_interval(
    path: str | Path, start: float, duration: float, *, fps: int = FPS, sample_rate: int = SAMPLE_RATE,
    transforms: Sequence[Transform | None] = (None,),
) -> IntervalMedia:
    """Frames and audio of ``[start, start + duration)``; the length is cut where the video ends."""
    path = Path(path)
    n_frames = math.floor(duration * fps + 1e-6)
    if n_frames <= 0:
        raise DataError(path, f"interval of {duration:.3f} s is shorter than one frame")
    frames, source_fps = read_video_interval(path, start, n_frames, fps=fps, transforms=transforms)
    audio = read_audio_interval(path, start, len(frames[0]), fps=fps, sample_rate=sample_rate)
    return IntervalMedia(frames, audio, source_fps)
