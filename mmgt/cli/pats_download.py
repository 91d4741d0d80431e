"""``mmgt data download-pats`` (registered on the ``data`` sub-app)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from mmgt.cli.common import EXIT_INCOMPLETE, on_interrupt
from mmgt.data.pats_download import (STATUS_DIR, DownloadConfig, DownloadSummary, SourceVideo, chosen_videos,
                                     download_pats, summary_path)
from mmgt.data.pats_intervals import CHOICES, Interval
from mmgt.data.shards import Shard
from mmgt.errors import UsageError

SHOWN_MISSING = 20
_D = DownloadConfig(Path(), Path())  # one source of defaults for the API and the CLI


def parse_rate(text: Optional[str]) -> Optional[int]:
    """``"2M"``, ``"500K"``, ``"100000"`` -> bytes per second (yt-dlp's --limit-rate syntax)."""
    if not text:
        return None
    from yt_dlp.utils import parse_bytes

    rate = parse_bytes(text)
    if not rate or rate <= 0:
        raise UsageError("--rate-limit", f"expected bytes per second such as 2M or 500K, got {text!r}")
    return int(rate)


def print_download_summary(summary: DownloadSummary, config: DownloadConfig) -> None:
    typer.echo(f"videos done: {summary.done} ({summary.fetched} fetched now, {summary.bytes / 1e6:.1f} MB), "
               f"dead: {summary.dead}, failed: {summary.failed}, intervals without a link: {summary.no_link}")
    for item in summary.missing[:SHOWN_MISSING]:
        typer.echo(f"  missing {item['video']} ({item['state']}): {item['link']} {item['error']}".rstrip())
    if len(summary.missing) > SHOWN_MISSING:
        typer.echo(f"  ... {len(summary.missing) - SHOWN_MISSING} more")
    typer.echo(f"summary: {summary_path(config)}")


def print_needed(videos: list[SourceVideo], no_link: list[Interval]) -> None:
    for speaker in sorted({v.speaker for v in videos} | {i.speaker for i in no_link}):
        mine = [v for v in videos if v.speaker == speaker]
        typer.echo(f"{speaker}: {len(mine)} videos for {sum(len(v.interval_ids) for v in mine)} intervals"
                   f" ({sum(i.speaker == speaker for i in no_link)} intervals without a link)")
    typer.echo(f"total: {len(videos)} videos for {sum(len(v.interval_ids) for v in videos)} intervals")


def download_pats_command(
    intervals: Path = typer.Option(..., "--intervals", help="PATS cmu_intervals_df.csv (or a CSV with the same columns)"),
    out: Path = typer.Option(..., "--out", help="folder of source videos to fill (what prepare-pats --videos reads)"),
    speakers: str = typer.Option(",".join(_D.speakers), help="comma-separated PATS speakers"),
    split: str = typer.Option(_D.split, help="the intervals whose videos to fetch: " + ", ".join(CHOICES)),
    ids: Optional[Path] = typer.Option(None, help="S2G-MDD's filtered_intervals.json (or test ids, one per line): "
                                       "decides the splits instead of the table's dataset column"),
    shard: str = typer.Option("0/1", help="fetch only shard i of N (by video; shards are disjoint)"),
    cookies: Optional[Path] = typer.Option(None, help="cookies.txt (Netscape format) for sign-in walls"),
    rate_limit: Optional[str] = typer.Option(None, help="bytes per second per download, e.g. 2M"),
    jobs: int = typer.Option(_D.jobs, help="downloads at a time"),
    retries: int = typer.Option(_D.retries, help="retries of a transient failure within this run"),
    backoff: float = typer.Option(_D.backoff_s, help="seconds before the first retry; doubles each time"),
    retry_dead: bool = typer.Option(_D.retry_dead, help="try links recorded dead again"),
    dry_run: bool = typer.Option(False, help="only count the videos and intervals needed, per speaker"),
    progress: bool = typer.Option(True, help="show a progress bar"),
) -> None:
    """Fetch the source videos the chosen intervals need with yt-dlp; resumable, one status file per video.

    A finished file is never fetched again; a dead link (404, unavailable, private, removed) is not retried;
    transient failures are retried with backoff here and by every rerun. Exit 3 lists what is missing."""
    config = DownloadConfig(intervals, out, tuple(s.strip() for s in speakers.split(",") if s.strip()), split, ids,
                            Shard.parse(shard), cookies, parse_rate(rate_limit), jobs, retries, backoff, retry_dead)
    if dry_run:
        print_needed(*chosen_videos(config))
        return
    on_interrupt(lambda: f"finished videos are kept and never fetched again, partial ones resume "
                         f"({out / STATUS_DIR} has one status file per video); rerun the same command")
    summary = download_pats(config, progress=progress)
    print_download_summary(summary, config)
    if summary.missing:
        raise typer.Exit(EXIT_INCOMPLETE)


def register(app: typer.Typer) -> None:
    app.command("download-pats")(download_pats_command)
