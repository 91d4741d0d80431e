"""PATS preparation: downloaded source videos + the interval table -> a split in the data layout.

Per interval (MMGT's recipe, see docs/PATS.md): the first ``max_seconds`` (15 s) re-timed to 25 fps
(:mod:`mmgt.data.source_media`), a square crop of side = frame height at the speaker's horizontal
offset (:func:`square_crop`), resized to ``size``; 16 kHz mono audio; keypoints from a pose
extractor on the resized frames (knees and ankles zeroed, as the release does for this upper-body
video); then 3.2 s windows every 0.5 s, each written as one clip.

Intervals whose source is missing or unreadable, or too short for one window, are skipped and
listed in ``summary.json``; nothing about one interval stops the run.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import av
import cv2
import numpy as np
from tqdm import tqdm

from mmgt.data.layout import ClipRecord, claim_output, remove_stale_clips, write_clip, write_manifest
from mmgt.data.pats_intervals import Interval, SplitIds, find_source, read_intervals, read_split_ids, source_names
from mmgt.data.source_media import read_interval
from mmgt.data.windows import WindowSpec, windows
from mmgt.errors import DataError, MMGTError
from mmgt.pose.base import PoseExtractor, zero_joints
from mmgt.video_io import FPS, SAMPLE_RATE, atomic_path, probe

# Left edge of the square crop as a fraction of the frame width; None: the right-most square.
SPEAKER_CROP: dict[str, float | None] = {"oliver": 0.38, "jon": None, "seth": 0.395, "chemistry": 0.031}
SUMMARY = "summary.json"
GENERATOR = "mmgt data prepare-pats"  # meta.json "generator": how a rerun recognises its own output


def square_crop(speaker: str, width: int, height: int) -> tuple[int, int]:
    """``(x0, side)`` of the speaker's square crop: side = frame height, x0 = floor(offset * width).

    The square is kept inside the frame (for narrow frames the side is the width).
    """
    side = min(width, height)
    offset = SPEAKER_CROP[speaker]
    x0 = width - side if offset is None else int(offset * width)
    return min(max(x0, 0), width - side), side


def clip_id(interval: Interval, frame_start: int) -> str:
    safe = re.sub(r"[^A-Za-z0-9-]+", "-", interval.interval_id).strip("-") or "interval"
    return f"{interval.speaker}_{safe}_{frame_start:04d}"


@dataclass(frozen=True)
class PatsConfig:
    """Everything that decides the output (recorded in ``meta.json``)."""

    intervals: Path
    videos: Path
    out: Path
    speakers: tuple[str, ...] = tuple(SPEAKER_CROP)
    size: int = 256
    window: WindowSpec = WindowSpec()
    max_seconds: float = 15.0
    split_ids: Path | None = None
    zero_lower_body: bool = True

    def __post_init__(self):
        unknown = [s for s in self.speakers if s not in SPEAKER_CROP]
        if unknown:
            raise MMGTError(f"unknown PATS speakers {unknown}; choose from {', '.join(SPEAKER_CROP)}")
        if self.size <= 0 or self.size % 2:
            raise MMGTError(f"--size must be a positive even number (H.264), got {self.size}")
        if self.window.fps != FPS:
            raise MMGTError(f"windows are cut on the {FPS} fps timeline, got {self.window.fps}")


@dataclass
class Summary:
    """What a run did: clips written per interval, and every skipped interval with its reason."""

    prepared: dict[str, int] = field(default_factory=dict)  # interval id -> clips written
    skipped: list[dict] = field(default_factory=list)  # {interval_id, speaker, reason, detail}

    def skip(self, interval: Interval, reason: str, detail: str) -> None:
        self.skipped.append({"interval_id": interval.interval_id, "speaker": interval.speaker,
                             "reason": reason, "detail": detail})

    def counts(self) -> dict[str, int]:
        out = {"intervals_prepared": len(self.prepared), "clips": sum(self.prepared.values())}
        for item in self.skipped:
            out[item["reason"]] = out.get(item["reason"], 0) + 1
        return out

    def to_json(self) -> str:
        return json.dumps({"counts": self.counts(), **asdict(self)}, indent=2, sort_keys=True) + "\n"


def _crop_resize(speaker: str, width: int, height: int, size: int):
    x0, side = square_crop(speaker, width, height)

    def transform(image: np.ndarray) -> np.ndarray:
        square = image[:side, x0:x0 + side]
        interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
        return cv2.resize(square, (size, size), interpolation=interpolation)

    return transform


def prepare_interval(interval: Interval, source: Path, split: str, config: PatsConfig,
                     extractor: PoseExtractor) -> list[ClipRecord]:
    """Write every window of one interval as a clip; raises ``DataError`` for unusable sources."""
    info = probe(source)
    duration = min(interval.duration, config.max_seconds)
    media = read_interval(source, interval.start, duration, sample_rate=SAMPLE_RATE,
                          transform=_crop_resize(interval.speaker, info.width, info.height, config.size))
    spans = windows(len(media.frames), config.window)
    if not spans:
        return []
    keypoints = extractor(media.frames)
    if config.zero_lower_body:
        keypoints = zero_joints(keypoints)
    per_frame = SAMPLE_RATE // FPS
    records = []
    for start, end in spans:
        record = ClipRecord(clip_id(interval, start), split, interval.speaker, interval.interval_id,
                            interval.start, interval.end, start, end, FPS, config.size, config.size)
        write_clip(config.out, record, media.frames[start:end], media.audio[start * per_frame:end * per_frame],
                   keypoints[start:end])
        records.append(record)
    return records


def _meta(config: PatsConfig, extractor: PoseExtractor) -> dict:
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()}
    return {"generator": GENERATOR, "fps": FPS, "sample_rate": SAMPLE_RATE,
            "settings": settings, "pose_extractor": extractor.provenance()}


def prepare_pats(config: PatsConfig, extractor: PoseExtractor, *, progress: bool = True, force: bool = False) -> Summary:
    """Prepare every interval of ``config.speakers``; write manifest, meta and ``summary.json``.

    ``config.out`` must be empty, missing or an earlier output of prepare-pats, unless ``force``;
    clip folders the new manifest does not list are removed at the end.
    """
    claim_output(config.out, GENERATOR, force)
    intervals = read_intervals(config.intervals, config.speakers)
    split_ids: SplitIds = read_split_ids(config.split_ids)
    config.out.mkdir(parents=True, exist_ok=True)
    summary, records = Summary(), []
    meta = _meta(config, extractor)
    bar = tqdm(intervals, desc="prepare-pats", unit="interval", disable=not progress)
    for interval in bar:
        split = split_ids.split_of(interval)
        source = find_source(interval, config.videos)
        if interval.interval_id in summary.prepared:
            summary.skip(interval, "duplicate", "interval id already prepared in this run")
        elif split is None:
            summary.skip(interval, "not in id file", str(config.split_ids))
        elif interval.duration <= 0:
            summary.skip(interval, "invalid interval", f"start {interval.start} s >= end {interval.end} s")
        elif source is None:
            summary.skip(interval, "missing", f"none of {source_names(interval)} in {config.videos}")
        else:
            try:
                new = prepare_interval(interval, source, split, config, extractor)
            except (DataError, av.error.FFmpegError) as err:
                summary.skip(interval, "broken", str(err) if isinstance(err, DataError) else f"{source}: {err}")
                continue
            if not new:
                summary.skip(interval, "too short", f"shorter than one {config.window.length_s} s window")
                continue
            records += new
            summary.prepared[interval.interval_id] = len(new)
            write_manifest(config.out, records, meta)
        bar.set_postfix(clips=len(records), skipped=len(summary.skipped))
    remove_stale_clips(config.out, records)
    write_manifest(config.out, records, meta)
    with atomic_path(config.out / SUMMARY) as tmp:
        tmp.write_text(summary.to_json())
    return summary
