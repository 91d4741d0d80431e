"""PATS preparation: downloaded source videos + the interval table -> a split in the data layout.

Per interval (MMGT's recipe, see docs/PATS.md): the first ``max_seconds`` (15 s) re-timed to 25 fps
(:mod:`mmgt.data.source_media`), a square crop of side = frame height at the speaker's horizontal
offset (:func:`square_crop`), resized to each of ``sizes`` (one decode serves them all); 16 kHz mono
audio; keypoints from a pose extractor on the resized frames (knees and ankles zeroed, as the
release does for this upper-body video); then 3.2 s windows every 0.5 s, each written as one clip.

Which intervals: the table's ``dataset`` column, or an id file, decides each one's split; ``split``
keeps one of them; ``shard`` keeps one share of the source videos. A rerun skips every interval
whose clips exist for the same inputs (:mod:`mmgt.data.pats_state`). Intervals whose source is
missing (dead link, failed or never fetched), unreadable, or too short for one window, are skipped
and listed in ``summary.json``; nothing about one interval stops the run.
"""

from __future__ import annotations

import json
import re
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from itertools import repeat
from multiprocessing import get_context
from pathlib import Path
from typing import Callable

import av
import cv2
import numpy as np
from tqdm import tqdm

from mmgt.data.layout import (META, ClipRecord, claim_output, read_manifest, remove_stale_clips, write_clip,
                              write_manifest, write_meta)
from mmgt.data.pats_download import read_status
from mmgt.data.pats_intervals import (SPEAKERS, Interval, check_speakers, check_split, find_source, read_intervals,
                                     read_split_ids, select, source_names, video_key)
from mmgt.data.pats_state import IntervalState, SourceHashes, interval_key, is_done, load_state, save_state
from mmgt.data.shards import Shard
from mmgt.data.source_media import read_interval
from mmgt.data.windows import WindowSpec, windows
from mmgt.errors import DataError, MMGTError, UsageError
from mmgt.pose.base import PoseExtractor, zero_joints
from mmgt.video_io import FPS, SAMPLE_RATE, atomic_path, probe

# Left edge of the square crop as a fraction of the frame width; None: the right-most square.
SPEAKER_CROP: dict[str, float | None] = {"oliver": 0.38, "jon": None, "seth": 0.395, "chemistry": 0.031}
SUMMARY = "summary.json"
SHARDS = "shards"  # ROOT/shards/<i>-of-<N>/: the manifest and summary of one shard, merged by merge_shards
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
    """What to prepare and how (one source of defaults for the API and ``mmgt data prepare-pats``)."""

    intervals: Path
    videos: Path
    out: Path
    speakers: tuple[str, ...] = SPEAKERS
    sizes: tuple[int, ...] = (256,)  # one size: OUT is the split root; several: OUT/<size>/ each
    window: WindowSpec = WindowSpec()
    max_seconds: float = 15.0
    ids: Path | None = None  # S2G-MDD's filtered_intervals.json or a test-id list; None: the dataset column
    split: str = "all"
    zero_lower_body: bool = True
    shard: Shard = Shard()
    workers: int = 1  # processes; the output does not depend on it

    def __post_init__(self):
        check_speakers(self.speakers)
        if not self.sizes or any(size <= 0 or size % 2 for size in self.sizes) or len(set(self.sizes)) < len(self.sizes):
            raise UsageError("--size", f"must be distinct positive even numbers (H.264), got {self.sizes}")
        if self.window.fps != FPS:
            raise MMGTError(f"windows are cut on the {FPS} fps timeline, got {self.window.fps}")
        check_split(self.split)
        if self.workers < 1:
            raise UsageError("--workers", f"must be >= 1, got {self.workers}")

    def root(self, size: int) -> Path:
        """The split root of ``size``."""
        return self.out if len(self.sizes) == 1 else self.out / str(size)

    def target(self, size: int) -> Path:
        """Where this run's manifest and summary of ``size`` go: the root, or its shard's folder."""
        shard = self.shard
        return self.root(size) if shard.count == 1 else self.root(size) / SHARDS / f"{shard.index}-of-{shard.count}"

    def settings(self, size: int) -> dict:
        """What decides a clip of ``size`` besides its interval, source and extractor."""
        return {"size": size, "window": asdict(self.window), "max_seconds": self.max_seconds,
                "zero_lower_body": self.zero_lower_body}


@dataclass
class Summary:
    """What a run found: clips per usable interval (``reused``: of them, how many were already done),
    every skipped interval with its reason, and how many rows the split or id file left out."""

    prepared: dict[str, int] = field(default_factory=dict)  # interval id -> clips
    reused: int = 0
    not_selected: int = 0
    skipped: list[dict] = field(default_factory=list)  # {interval_id, speaker, reason, detail}

    def skip(self, interval: Interval, reason: str, detail: str) -> None:
        self.skipped.append({"interval_id": interval.interval_id, "speaker": interval.speaker,
                             "reason": reason, "detail": detail})

    def counts(self) -> dict[str, int]:
        out = {"intervals_prepared": len(self.prepared), "intervals_reused": self.reused,
               "clips": sum(self.prepared.values()), "not selected": self.not_selected}
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


@dataclass(frozen=True)
class Job:
    """One interval to prepare at the sizes not yet done, with the keys their state files will carry."""

    interval: Interval
    source: Path
    split: str
    source_info: dict
    keys: dict[int, str]  # size -> input key


def prepare_interval(job: Job, config: PatsConfig, extractor: PoseExtractor) -> dict[int, list[ClipRecord]]:
    """Write every window of one interval at each size of ``job`` (one decode), then its state files.

    Raises ``DataError`` for unusable sources; an interval shorter than one window gives no clips.
    """
    interval, sizes = job.interval, sorted(job.keys)
    info = probe(job.source)
    duration = min(interval.duration, config.max_seconds)
    media = read_interval(job.source, interval.start, duration, sample_rate=SAMPLE_RATE,
                          transforms=[_crop_resize(interval.speaker, info.width, info.height, s) for s in sizes])
    spans = windows(len(media.frames[0]), config.window)
    per_frame = SAMPLE_RATE // FPS
    out = {}
    for size, frames in zip(sizes, media.frames):
        records = []
        if spans:
            keypoints = extractor(frames)
            if config.zero_lower_body:
                keypoints = zero_joints(keypoints)
        for start, end in spans:
            record = ClipRecord(clip_id(interval, start), job.split, interval.speaker, interval.interval_id,
                                interval.start, interval.end, start, end, FPS, size, size)
            write_clip(config.root(size), record, frames[start:end], media.audio[start * per_frame:end * per_frame],
                       keypoints[start:end])
            records.append(record)
        save_state(config.root(size), interval, IntervalState(job.keys[size], job.source_info, [asdict(r) for r in records]))
        out[size] = records
    return out


_EXTRACTOR: PoseExtractor | None = None  # this process's extractor: the caller's, inherited, or built by _init_worker


def _init_worker(make_extractor: Callable[[], PoseExtractor]) -> None:
    global _EXTRACTOR
    _EXTRACTOR = make_extractor()


def _pool(config: PatsConfig, make_extractor: Callable[[], PoseExtractor] | None) -> ProcessPoolExecutor | None:
    """No pool for one worker; forked workers sharing the caller's extractor; or fresh (spawned) workers
    that each build their own with ``make_extractor`` (own ONNX sessions, own CUDA context)."""
    if config.workers == 1:
        return None
    if make_extractor is None:
        return ProcessPoolExecutor(config.workers, mp_context=get_context("fork"))
    return ProcessPoolExecutor(config.workers, mp_context=get_context("spawn"), initializer=_init_worker,
                               initargs=(make_extractor,))


def _run_job(job: Job, config: PatsConfig) -> dict[int, list[ClipRecord]] | str:
    """``prepare_interval`` in a worker: the clips per size, or the line saying why the source is unusable."""
    try:
        return prepare_interval(job, config, _EXTRACTOR)
    except (DataError, av.error.FFmpegError) as err:
        return str(err) if isinstance(err, DataError) else f"{job.source}: {err}"


def missing_reason(interval: Interval, videos: Path) -> tuple[str, str]:
    """Why no source file is there: the download status tells a dead link from a failed or absent fetch."""
    key = video_key(interval)
    status = read_status(videos, key)
    if status is not None and status.state in ("dead", "failed"):
        reason = "dead link" if status.state == "dead" else "download failed"
        return reason, f"{key} ({interval.video_link}): {status.error}"
    return "missing", f"none of {source_names(interval)} in {videos} (not downloaded)"


def _meta(config: PatsConfig, size: int, extractor: PoseExtractor) -> dict:
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()
                if k not in ("sizes", "shard", "workers")}
    return {"generator": GENERATOR, "fps": FPS, "sample_rate": SAMPLE_RATE,
            "settings": settings | {"size": size}, "pose_extractor": extractor.provenance()}


def _plan(config: PatsConfig, extractor: PoseExtractor, summary: Summary,
          records: dict[int, list[ClipRecord]]) -> list[Job]:
    """The jobs left to do; what is done already goes into ``records`` and ``summary``."""
    intervals = read_intervals(config.intervals, config.speakers)
    chosen = select(intervals, read_split_ids(config.ids), config.split)
    summary.not_selected = len(intervals) - len(chosen)
    provenance, hashes, seen, jobs = extractor.provenance(), SourceHashes(), set(), []
    for interval, split in chosen:
        if not config.shard.holds(video_key(interval)):
            continue
        if interval.interval_id in seen:
            summary.skip(interval, "duplicate", "interval id listed twice in the table")
            continue
        seen.add(interval.interval_id)
        source = find_source(interval, config.videos)
        if interval.duration <= 0:
            summary.skip(interval, "invalid interval", f"start {interval.start} s >= end {interval.end} s")
        elif source is None:
            summary.skip(interval, *missing_reason(interval, config.videos))
        else:
            states = {size: load_state(config.root(size), interval) for size in config.sizes}
            for state in filter(None, states.values()):
                hashes.remember(state.source)
            info = hashes.describe(source)
            keys = {size: interval_key(interval, split, info["sha256"], config.settings(size), provenance)
                    for size in config.sizes}
            pending = {size: key for size, key in keys.items() if not is_done(config.root(size), states[size], key)}
            for size in set(keys) - set(pending):
                records[size] += states[size].clip_records()
            if pending:
                jobs.append(Job(interval, source, split, info, pending))
            else:
                summary.reused += 1
                _count(summary, interval, len(states[config.sizes[0]].records), config)
    return jobs


def _count(summary: Summary, interval: Interval, n_clips: int, config: PatsConfig) -> None:
    if n_clips:
        summary.prepared[interval.interval_id] = n_clips
    else:
        summary.skip(interval, "too short", f"shorter than one {config.window.length_s} s window")


def _write(config: PatsConfig, extractor: PoseExtractor, summary: Summary, records: dict[int, list[ClipRecord]],
           complete: bool) -> None:
    """Manifest, meta and summary of each size; a complete unsharded run also removes stale clips."""
    for size in config.sizes:
        root, target, meta = config.root(size), config.target(size), _meta(config, size, extractor)
        if target == root and complete:
            remove_stale_clips(root, records[size])
        write_manifest(target, records[size], meta)
        with atomic_path(target / SUMMARY) as tmp:
            tmp.write_text(summary.to_json())


def prepare_pats(config: PatsConfig, extractor: PoseExtractor, *, make_extractor: Callable[[], PoseExtractor] | None = None,
                 progress: bool = True, force: bool = False) -> Summary:
    """Prepare the chosen intervals (skipping those done for the same inputs); write manifest, meta and
    ``summary.json`` per size (a shard: under ``ROOT/shards/<i>-of-<N>/``, see :func:`merge_shards`).

    With ``config.workers > 1`` each worker builds its extractor with ``make_extractor`` (a picklable
    factory, such as the pose registry's) when given, else inherits ``extractor`` by fork (fine for
    extractors without native threads or a GPU context).

    Each root must be empty, missing or an earlier output of prepare-pats, unless ``force``; a complete
    unsharded run removes clip folders its manifest does not list.
    """
    global _EXTRACTOR
    for size in config.sizes:
        claim_output(config.root(size), GENERATOR, force)
        config.root(size).mkdir(parents=True, exist_ok=True)
        write_meta(config.root(size), _meta(config, size, extractor))  # ours from the start: other shards may join
    summary, records = Summary(), {size: [] for size in config.sizes}
    jobs = _plan(config, extractor, summary, records)
    _EXTRACTOR = extractor
    pool = _pool(config, make_extractor)
    complete = False
    try:
        with pool or nullcontext():
            # workers fork when the jobs are submitted, before the progress bar starts its thread
            outcomes = (pool.map if pool else map)(_run_job, jobs, repeat(config))
            with tqdm(total=len(jobs), desc="prepare-pats", unit="interval", disable=not progress) as bar:
                for job, outcome in zip(jobs, outcomes):
                    if isinstance(outcome, str):
                        summary.skip(job.interval, "broken", outcome)
                    else:
                        for size, new in outcome.items():
                            records[size] += new
                        _count(summary, job.interval, len(next(iter(outcome.values()))), config)
                    bar.update()
                    bar.set_postfix(clips=sum(summary.prepared.values()), skipped=len(summary.skipped))
        complete = True
    finally:
        _EXTRACTOR = None
        _write(config, extractor, summary, records, complete)
    return summary


def merge_shards(root: Path) -> list[ClipRecord]:
    """Write ``root``'s manifest from its shards' manifests (``root/shards/*/``); their clips must be disjoint."""
    manifests = sorted((Path(root) / SHARDS).glob("*/manifest.csv"))
    if not manifests:
        raise DataError(Path(root) / SHARDS, "no shard manifests to merge (run prepare-pats with --shard i/N first)")
    records = [r for m in manifests for r in read_manifest(m)]
    ids = [r.clip_id for r in records]
    if len(set(ids)) != len(ids):
        raise DataError(Path(root) / SHARDS, "shards share clips: they come from different --shard counts; "
                                             "remove the stale shard folders")
    meta = json.loads((Path(root) / META).read_text())
    write_manifest(root, records, meta)
    return records
