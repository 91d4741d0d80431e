"""``mmgt data prepare-pats``, ``merge-pats`` and ``extract-pose`` (registered on the ``data`` sub-app)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import typer

from mmgt import pose
from mmgt.cli.common import on_interrupt
from mmgt.data.layout import KEYPOINTS, MANIFEST, VIDEO, claim_output
from mmgt.data.pats import GENERATOR, SUMMARY, PatsConfig, Summary, merge_shards, prepare_pats
from mmgt.data.pats_intervals import CHOICES
from mmgt.data.pats_state import STATE_DIR
from mmgt.data.shards import Shard
from mmgt.data.windows import WindowSpec
from mmgt.errors import DataError
from mmgt.video_io import atomic_path, read_video

SHOWN_SKIPS = 20


def _print_summary(summary: Summary, targets: list[Path]) -> None:
    counts = summary.counts()
    typer.echo(", ".join(f"{k}: {v}" for k, v in counts.items()))
    for item in summary.skipped[:SHOWN_SKIPS]:
        typer.echo(f"  skipped {item['speaker']}/{item['interval_id']} ({item['reason']}): {item['detail']}")
    if len(summary.skipped) > SHOWN_SKIPS:
        typer.echo(f"  ... {len(summary.skipped) - SHOWN_SKIPS} more")
    typer.echo("summary: " + ", ".join(str(target / SUMMARY) for target in targets))


_D = PatsConfig(Path(), Path(), Path())  # one source of defaults for the API and the CLI


def prepare_pats_command(
    intervals: Path = typer.Option(..., "--intervals", help="PATS cmu_intervals_df.csv (or a CSV with the same columns)"),
    videos: Path = typer.Option(..., "--videos", help="folder of source videos (download-pats --out, or per-speaker "
                                "sub-folders)"),
    out: Path = typer.Option(..., "--out", help="split root to write (several --size: OUT/<size>/ each)"),
    speakers: str = typer.Option(",".join(_D.speakers), help="comma-separated PATS speakers"),
    extractor: str = typer.Option("mediapipe", help="pose extractor: " + ", ".join(pose.available())),
    size: list[int] = typer.Option(list(_D.sizes), help="output frame side in pixels; 256: evaluation and stage 1, "
                                   "512: stage 2 at the paper preset; repeat for both (one decode serves them)"),
    window: float = typer.Option(_D.window.length_s, help="clip length in seconds"),
    step: float = typer.Option(_D.window.step_s, help="seconds between clip starts"),
    max_seconds: float = typer.Option(_D.max_seconds, help="use only the first seconds of each interval"),
    ids: Optional[Path] = typer.Option(None, "--ids", "--test-ids", help="S2G-MDD's filtered_intervals.json (those "
                                       "intervals only, in its splits) or test ids one per line (others train); "
                                       "default: the table's dataset column"),
    split: str = typer.Option(_D.split, help="prepare only this split: " + ", ".join(CHOICES)),
    shard: str = typer.Option("0/1", help="prepare only shard i of N (by source video, as download-pats); "
                              "then `mmgt data merge-pats OUT`"),
    workers: int = typer.Option(_D.workers, help="worker processes (the output does not depend on it)"),
    keep_lower_body: bool = typer.Option(False, help="keep knee/ankle keypoints (zeroed by default)"),
    progress: bool = typer.Option(True, help="show a progress bar"),
    force: bool = typer.Option(False, help="write into a non-empty folder that is not an earlier prepare-pats "
                               "output (clip folders the new manifest does not list are removed)"),
) -> None:
    """Trim, re-time (25 fps), crop, resize and window PATS intervals into a split; skip what is missing.

    A rerun skips every interval whose clips exist for the same inputs (OUT/state/). OUT must be empty,
    new, or an earlier prepare-pats output (its meta.json), unless --force."""
    config = PatsConfig(intervals, videos, out, tuple(s.strip() for s in speakers.split(",") if s.strip()),
                        tuple(size), WindowSpec(window, step), max_seconds, ids, split, not keep_lower_body,
                        Shard.parse(shard), workers)
    for each in config.sizes:
        claim_output(config.root(each), GENERATOR, force)
    on_interrupt(lambda: f"finished intervals are kept ({STATE_DIR}/ under {out}); rerun the same command to continue")
    make_extractor = pose.factory(extractor)
    summary = prepare_pats(config, make_extractor(), make_extractor=make_extractor, progress=progress, force=force)
    _print_summary(summary, [config.target(each) for each in config.sizes])


def merge_pats_command(out: Path = typer.Argument(..., help="split root that --shard runs wrote into")) -> None:
    """Write OUT/manifest.csv from the manifests of its --shard runs (OUT/shards/*/)."""
    records = merge_shards(out)
    typer.echo(f"merged {len(records)} clips into {out / MANIFEST}")


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
    """Add the commands to the ``data`` sub-app."""
    app.command("prepare-pats")(prepare_pats_command)
    app.command("merge-pats")(merge_pats_command)
    app.command("extract-pose")(extract_pose_command)
