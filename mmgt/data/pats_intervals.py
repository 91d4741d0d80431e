"""PATS interval tables, train/test id files and where an interval's source video lies.

The interval table is PATS' ``cmu_intervals_df.csv`` (columns ``dataset, delta_time, end_time,
interval_id, speaker, start_time, video_fn, video_link``) or any CSV with ``interval_id, speaker,
start_time, end_time`` and at least one of ``video_fn`` / ``video_link``. Times are seconds
(``57.42``) or clock times (``0:00:57.42``), optionally after a date (``2016-01-01 00:00:57.42``,
as pandas writes them); only the time of day counts.

Source lookup, first match wins, in ``DIR/<speaker>/`` then ``DIR/``: the ``video_fn`` file name;
then ``<id>.mp4|.mkv|.webm`` for the ids the link gives: the YouTube id, the link's last path
segment, and its last 4 characters (S2G-MDD's name for ``jon`` videos not on YouTube).
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path

from mmgt.errors import DataError, UsageError

SPEAKERS = ("oliver", "jon", "seth", "chemistry")  # the paper's four (its "Kubinec" is PATS' chemistry)
REQUIRED = ("interval_id", "speaker", "start_time", "end_time")
VIDEO_COLUMNS = ("video_fn", "video_link")
EXTENSIONS = (".mp4", ".mkv", ".webm")
_YOUTUBE_ID = re.compile(r"(?:[?&]v=|youtu\.be/|/embed/|/shorts/)([\w-]{11})")


@dataclass(frozen=True)
class Interval:
    """One row of the interval table."""

    interval_id: str
    speaker: str
    start: float  # seconds into the source video
    end: float
    video_fn: str = ""
    video_link: str = ""
    dataset: str = ""  # the table's train/dev/test column ("" when it has none)

    @property
    def duration(self) -> float:
        return self.end - self.start


def check_speakers(speakers: tuple[str, ...]) -> None:
    """``UsageError`` naming the speakers that are not among :data:`SPEAKERS`."""
    unknown = [s for s in speakers if s not in SPEAKERS]
    if unknown:
        raise UsageError("--speakers", f"unknown PATS speakers {unknown}; choose from {', '.join(SPEAKERS)}")


def parse_time(text: str) -> float:
    """Seconds from ``57.42``, ``0:00:57.42`` or ``2016-01-01 00:00:57.42``; ``ValueError`` otherwise."""
    clock = text.strip().split()[-1] if text.strip() else ""
    parts = clock.split(":")
    try:
        if not clock or len(parts) > 3:
            raise ValueError
        seconds = 0.0
        for part in parts:
            seconds = seconds * 60 + float(part)
    except ValueError:
        raise ValueError(f"not a time: {text!r}") from None
    return seconds


def read_intervals(path: str | Path, speakers: tuple[str, ...] | None = None) -> list[Interval]:
    """Rows of the interval table (of ``speakers`` only, when given), in file order."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "interval table not found")
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        columns = set(reader.fieldnames or [])
        missing = [c for c in REQUIRED if c not in columns]
        if missing or not columns & set(VIDEO_COLUMNS):
            need = missing + ([] if columns & set(VIDEO_COLUMNS) else ["video_fn or video_link"])
            raise DataError(path, f"interval table lacks columns {need}")
        rows = []
        for line, row in enumerate(reader, start=2):
            if speakers is not None and row["speaker"] not in speakers:
                continue
            try:
                start, end = parse_time(row["start_time"]), parse_time(row["end_time"])
            except ValueError as exc:
                raise DataError(path, f"line {line}: {exc}") from None
            rows.append(Interval(str(row["interval_id"]).strip(), row["speaker"], start, end,
                                 (row.get("video_fn") or "").strip(), (row.get("video_link") or "").strip(),
                                 (row.get("dataset") or "").strip()))
    return rows


def link_ids(link: str) -> list[str]:
    """Names a source link gives its video, most specific first: the YouTube id, the link's last
    path segment, its last 4 characters (S2G-MDD's names for ``jon`` videos not on YouTube)."""
    link = link.rstrip("/")
    if not link:
        return []
    found = _YOUTUBE_ID.search(link)
    ids = [found.group(1)] if found else []
    ids += [Path(link.split("?")[0]).stem, link[-4:]]
    return [i for i in dict.fromkeys(ids) if i]


def source_names(interval: Interval) -> list[str]:
    """Candidate file names of the interval's source video, most specific first."""
    names = [Path(interval.video_fn).name] if interval.video_fn else []
    names += [i + ext for i in link_ids(interval.video_link) for ext in EXTENSIONS]
    return list(dict.fromkeys(names))


def find_source(interval: Interval, videos: str | Path) -> Path | None:
    """The first existing candidate under ``videos/<speaker>/`` or ``videos/``, else None."""
    for folder in (Path(videos) / interval.speaker, Path(videos)):
        for name in source_names(interval):
            if (folder / name).is_file():
                return folder / name
    return None


SPLITS = ("train", "dev", "test")  # the values of the table's dataset column
CHOICES = (*SPLITS, "all")  # what --split accepts


@dataclass(frozen=True)
class SplitIds:
    """Which split an interval goes to: an id file's assignment (ids it does not list go to
    ``default``; None: skipped), or without one (``assigned`` None) the table's ``dataset``
    column (``test`` for a table without the column)."""

    assigned: dict[str, str] | None = None
    default: str | None = None

    def split_of(self, interval: Interval) -> str | None:
        if self.assigned is None:
            return interval.dataset or "test"
        return self.assigned.get(interval.interval_id, self.default)


def read_split_ids(path: str | Path | None) -> SplitIds:
    """Split assignment from an id file.

    * none: the table's ``dataset`` column decides (train / dev / test);
    * ``.json`` ``{"train": [...], "test": [...]}`` (S2G-MDD's ``filtered_intervals.json``): those
      ids go to their split, intervals in neither list are skipped;
    * any other file: one test interval id per line (``#`` comments allowed), all others ``train``.
    """
    if path is None:
        return SplitIds()
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "interval id file not found")
    if path.suffix == ".json":
        try:
            lists = json.loads(path.read_text())
            assigned = {str(i): split for split in SPLITS for i in lists.get(split, [])}
        except (json.JSONDecodeError, AttributeError, TypeError) as exc:
            raise DataError(path, f"expected {{'train': [ids], 'test': [ids]}} ({exc})") from None
        return SplitIds(assigned, None)
    ids = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    return SplitIds({i: "test" for i in ids if i}, "train")


def check_split(split: str) -> None:
    """``UsageError`` unless ``split`` is one of :data:`CHOICES`."""
    if split not in CHOICES:
        raise UsageError("--split", f"choose from {', '.join(CHOICES)}, got {split!r}")


def select(intervals: list[Interval], split_ids: SplitIds, split: str = "all") -> list[tuple[Interval, str]]:
    """``(interval, split)`` of every interval assigned to ``split`` (``all``: to any split), in order."""
    check_split(split)
    pairs = [(interval, split_ids.split_of(interval)) for interval in intervals]
    return [(i, s) for i, s in pairs if s is not None and split in ("all", s)]


def video_key(interval: Interval) -> str:
    """``<speaker>/<name>`` of the interval's source video: what downloads and shards are keyed by."""
    ids = link_ids(interval.video_link)
    name = ids[0] if ids else Path(interval.video_fn).stem or interval.interval_id
    return f"{interval.speaker}/{name}"
