"""A PATS stand-in: raw-style source videos of synthetic speakers under the four PATS speaker names,
an interval table in the format of PATS' ``cmu_intervals_df.csv`` and a split file in the format of
S2G-MDD's ``filtered_intervals.json``, for running download-pats and prepare-pats end to end (the
videos served on loopback) and timing them without the real release.

Each source video is cut into consecutive intervals; their ``dataset`` column cycles through
:data:`DATASET_CYCLE`; the split file keeps all but the last interval of each video, as S2G-MDD's
filtered list keeps a subset of the table.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from mmgt.data.pats import SPEAKER_CROP
from mmgt.data.synth.generate import render_interval
from mmgt.video_io import write_video

COLUMNS = ("dataset", "delta_time", "end_time", "interval_id", "speaker", "start_time", "video_fn", "video_link")
DATASET_CYCLE = ("train", "train", "test", "train", "dev")
TABLE, SPLIT_FILE, SOURCES = "cmu_intervals_df.csv", "filtered_intervals.json", "sources"


@dataclass(frozen=True)
class StandInConfig:
    """How much stand-in to write."""

    videos_per_speaker: int = 1
    video_seconds: float = 30.0
    interval_seconds: float = 7.0  # 175 frames at 25 fps: 8 windows of 3.2 s every 0.5 s
    seed: int = 0


def clock(seconds: float) -> str:
    """``0:00:57.420000``, the time format of cmu_intervals_df.csv."""
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes // 60)}:{int(minutes % 60):02d}:{rest:09.6f}"


def write_sources(folder: Path, config: StandInConfig = StandInConfig()) -> list[Path]:
    """``folder/<speaker>-<k>.mp4``: 456x256, 30 fps, with speech; one synthetic speaker per PATS speaker."""
    paths = []
    for number, speaker in enumerate(SPEAKER_CROP):
        for k in range(config.videos_per_speaker):
            it = render_interval(number, config.video_seconds, seed=config.seed, index=k)
            paths.append(write_video(folder / f"{speaker}-{k}.mp4", it.frames, fps=round(it.fps), audio=it.audio))
    return paths


def write_tables(root: Path, base_url: str, config: StandInConfig = StandInConfig()) -> tuple[Path, Path]:
    """The interval table (links under ``base_url``) and the split file; returns their paths."""
    per_video = int(config.video_seconds // config.interval_seconds)
    rows, keep = [], {"train": [], "test": []}
    for speaker in SPEAKER_CROP:
        for k in range(config.videos_per_speaker):
            for j in range(per_video):
                interval_id = str(100_000 + len(rows))
                dataset = DATASET_CYCLE[len(rows) % len(DATASET_CYCLE)]
                start = j * config.interval_seconds
                rows.append((dataset, config.interval_seconds, clock(start + config.interval_seconds), interval_id,
                             speaker, clock(start), "", f"{base_url}/{speaker}-{k}.mp4"))
                if j < per_video - 1 and dataset != "dev":
                    keep[dataset].append(int(interval_id))
    table, split_file = root / TABLE, root / SPLIT_FILE
    root.mkdir(parents=True, exist_ok=True)
    with open(table, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        writer.writerows(rows)
    split_file.write_text(json.dumps(keep) + "\n")
    return table, split_file
