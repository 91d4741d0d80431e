"""``mmgt data prepare-pats`` and ``mmgt data extract-pose`` (registered on the ``data`` sub-app)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import typer

from mmgt import pose
from mmgt.cli.common import on_interrupt
from mmgt.data.layout import KEYPOINTS, MANIFEST, VIDEO, claim_output
from mmgt.data.pats import GENERATOR, SPEAKER_CROP, SUMMARY, PatsConfig, Summary, prepare_pats
from mmgt.data.windows import WindowSpec
from mmgt.errors import DataError
from mmgt.video_io import atomic_path, read_video

SHOWN_SKIPS = 20


def _print_summary(summary: Summary, out: Path) -> None:
    counts = summary.counts()
    typer.echo(", ".join(f"{k}: {v}" for k, v in counts.items()))
    for item in summary.skipped[:SHOWN_SKIPS]:
        typer.echo(f"  skipped {item['speaker']}/{item['interval_id']} ({item['reason']}): {item['detail']}")
    if len(summary.skipped) > SHOWN_SKIPS:
        typer.echo(f"  ... {len(summary.skipped) - SHOWN_SKIPS} more")
    typer.echo(f"summary: {out / SUMMARY}")


def prepare_pats_command(
    intervals: Path = typer.Option(..., "--intervals", help="PATS cmu_intervals_df.csv (or a CSV with the same columns)"),
    videos: Path = typer.Option(..., "--videos", help="folder of downloaded source videos (or per-speaker sub-folders)"),
    out: Path = typer.Option(..., "--out", help="split root to write"),
    speakers: str = typer.Option(",".join(SPEAKER_CROP), help="comma-separated PATS speakers"),
    extractor: str = typer.Option("mediapipe", help="pose extractor: " + ", ".join(pose.available())),
    size: int = typer.Option(256, help="output frame side in pixels"),
    window: float = typer.Option(3.2, help="clip length in seconds"),
    step: float = typer.Option(0.5, help="seconds between clip starts"),
    max_seconds: float = typer.Option(15.0, help="use only the first seconds of each interval"),
    test_ids: Optional[Path] = typer.Option(None, help="test interval ids, one per line, or S2G-MDD's "
                                            "filtered_intervals.json; without it every clip is test"),
    keep_lower_body: bool = typer.Option(False, help="keep knee/ankle keypoints (zeroed by default)"),
    progress: bool = typer.Option(True, help="show a progress bar"),
    force: bool = typer.Option(False, help="write into a non-empty folder that is not an earlier prepare-pats "
                               "output (clip folders the new manifest does not list are removed)"),
) -> None:
    """Trim, re-time (25 fps), crop, resize and window PATS intervals into a split; skip what is missing.

    OUT must be empty, new, or an earlier prepare-pats output (its meta.json), unless --force."""
    config = PatsConfig(intervals, videos, out, tuple(s.strip() for s in speakers.split(",") if s.strip()),
                        size, WindowSpec(window, step), max_seconds, test_ids, not keep_lower_body)
    claim_output(out, GENERATOR, force)
    on_interrupt(lambda: f"{out / MANIFEST} lists the intervals prepared so far; rerun the same command to prepare again")
    summary = prepare_pats(config, pose.create(extractor), progress=progress, force=force)
    _print_summary(summary, out)


def extract_pose_command(
    source: Path = typer.Argument(..., help="a video file, or a folder searched for */video.mp4"),
    out: Optional[Path] = typer.Option(None, help="output .npy for a single video (default: <video>.keypoints.npy)"),
    name: str = typer.Option(KEYPOINTS, help="file name written next to each video.mp4 in folder mode"),
    extractor: str = typer.Option("mediapipe", help="pose extractor: " + ", ".join(pose.available())),
    overwrite: bool = typer.Option(False, help="replace keypoint files that already exist"),
) -> None:
    """Write (T, 134, 3) pixel keypoints for a video, or for every clip video under a folder."""
    if not source.exists():
        raise DataError(source, "not found")
    if source.is_file():
        targets = [(source, out or source.with_suffix(".keypoints.npy"))]
    else:
        targets = [(v, v.parent / name) for v in sorted(source.rglob(VIDEO))]
    todo = [(v, t) for v, t in targets if overwrite or not t.exists()]
    model = pose.create(extractor)
    for video, target in todo:
        with atomic_path(target, suffix=".npy") as tmp:
            np.save(tmp, model(read_video(video, expect_fps=None)))
    typer.echo(f"wrote {len(todo)} keypoint file(s) with {extractor}; {len(targets) - len(todo)} already present")


def register(app: typer.Typer) -> None:
    """Add both commands to the ``data`` sub-app."""
    app.command("prepare-pats")(prepare_pats_command)
    app.command("extract-pose")(extract_pose_command)
