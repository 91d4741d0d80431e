"""Fetching the PATS source videos the chosen intervals need, with yt-dlp, resumably.

Each needed video (one per ``<speaker>/<name>``, :func:`mmgt.data.pats_intervals.video_key`) is
fetched once into ``RAW/<speaker>/<name>.<ext>``, where prepare-pats looks for it. Its state lives
in ``RAW/status/<speaker>/<name>.json``:

* ``done``: the file is complete (yt-dlp renames its ``.part`` file only at the end); a video
  whose file exists is never fetched again, whatever its status says;
* ``dead``: the link answers that the video is gone (HTTP 404/410/451, unavailable, private,
  removed, no video at the page); not retried unless asked (``retry_dead``);
* ``failed``: anything else (network, throttling, sign-in walls): retried with exponential backoff
  within a run, and again by every later run; a partial ``.part`` file resumes where it stopped.
"""

from __future__ import annotations

import json
import shutil
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from tqdm import tqdm

from mmgt.data.pats_intervals import (EXTENSIONS, SPEAKERS, Interval, check_speakers, check_split, link_ids, read_intervals,
                                     read_split_ids, select, video_key)
from mmgt.data.shards import Shard
from mmgt.errors import UsageError
from mmgt.video_io import atomic_path

STATUS_DIR = "status"
SUMMARY = "download-summary"
FORMAT = "bv*[ext=mp4]+ba[ext=m4a]/b[ext=mp4]/bv*+ba/b"  # S2G-MDD's choice, then whatever exists
DEAD_HTTP = (404, 410, 451)
DEAD_MESSAGES = ("video unavailable", "private video", "has been removed", "this video is not available",
                 "no longer available", "has been terminated", "copyright", "does not exist")


class DeadLink(Exception):
    """The link answers that its video is gone."""


class TransientError(Exception):
    """The fetch failed for a reason that may pass."""


@dataclass(frozen=True)
class SourceVideo:
    """One source video: where it comes from, where it goes, and which intervals need it."""

    key: str  # <speaker>/<name>
    link: str
    interval_ids: tuple[str, ...]

    @property
    def speaker(self) -> str:
        return self.key.split("/")[0]

    @property
    def name(self) -> str:
        return self.key.split("/", 1)[1]


@dataclass(frozen=True)
class DownloadConfig:
    """What to fetch and how (one source of defaults for the API and ``mmgt data download-pats``)."""

    intervals: Path
    out: Path
    speakers: tuple[str, ...] = SPEAKERS
    split: str = "all"
    ids: Path | None = None
    shard: Shard = Shard()
    cookies: Path | None = None
    rate_limit: int | None = None  # bytes per second per download
    jobs: int = 2
    retries: int = 3  # further attempts after a transient failure, within one run
    backoff_s: float = 5.0  # wait before retry k: backoff_s * 2 ** k
    retry_dead: bool = False
    socket_timeout_s: float = 30.0

    def __post_init__(self):
        check_speakers(self.speakers)
        check_split(self.split)
        if self.jobs < 1:
            raise UsageError("--jobs", f"must be >= 1, got {self.jobs}")
        if self.retries < 0 or self.backoff_s < 0:
            raise UsageError("--retries/--backoff", f"must be >= 0, got {self.retries}, {self.backoff_s}")


@dataclass
class VideoStatus:
    """The content of one status file."""

    state: str  # done | dead | failed
    link: str
    file: str = ""  # file name under RAW/<speaker>/ when done
    bytes: int = 0
    attempts: int = 0  # fetch attempts over all runs
    error: str = ""
    updated: float = 0.0


@dataclass
class DownloadSummary:
    """What a run found and did, per state; ``missing`` lists every video without a file."""

    done: int = 0  # complete files, fetched now or before
    fetched: int = 0  # of which fetched by this run
    dead: int = 0
    failed: int = 0
    no_link: int = 0  # intervals whose table row has no link to fetch
    bytes: int = 0  # fetched by this run
    missing: list[dict] = field(default_factory=list)  # {video, link, state, error}

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"


def needed_videos(intervals: list[Interval]) -> tuple[list[SourceVideo], list[Interval]]:
    """The distinct source videos of ``intervals`` (sorted by key), and the intervals without a link."""
    links: dict[str, str] = {}
    users: dict[str, list[str]] = {}
    no_link = []
    for interval in intervals:
        if not interval.video_link:
            no_link.append(interval)
            continue
        key = video_key(interval)
        links.setdefault(key, interval.video_link)
        users.setdefault(key, []).append(interval.interval_id)
    return [SourceVideo(k, links[k], tuple(users[k])) for k in sorted(links)], no_link


def finished_file(out: Path, video: SourceVideo) -> Path | None:
    """The complete file of ``video`` under ``out/<speaker>/``, if one exists: ours, or one named as
    S2G-MDD's script names it (the link's last 4 characters for links not on YouTube)."""
    for name in dict.fromkeys([video.name, *link_ids(video.link)]):
        for ext in EXTENSIONS:
            path = out / video.speaker / f"{name}{ext}"
            if path.is_file() and path.stat().st_size > 0:
                return path
    return None


def status_path(out: Path, key: str) -> Path:
    """The status file of the video ``<speaker>/<name>``."""
    return out / STATUS_DIR / f"{key}.json"


def read_status(out: Path, key: str) -> VideoStatus | None:
    try:
        return VideoStatus(**json.loads(status_path(out, key).read_text()))
    except (OSError, ValueError, TypeError):
        return None  # never fetched, or a status file cut short: fetch again


def write_status(out: Path, key: str, status: VideoStatus) -> None:
    status.updated = time.time()
    with atomic_path(status_path(out, key)) as tmp:
        tmp.write_text(json.dumps(asdict(status), indent=2, sort_keys=True) + "\n")


class _QuietLogger:
    """yt-dlp's messages stay out of the progress bar; errors come back through the exception."""

    def debug(self, msg: str) -> None: ...

    def info(self, msg: str) -> None: ...

    def warning(self, msg: str) -> None: ...

    def error(self, msg: str) -> None: ...


def _ffmpeg() -> str:
    import imageio_ffmpeg

    return shutil.which("ffmpeg") or imageio_ffmpeg.get_ffmpeg_exe()


def classify(error: Exception) -> Exception:
    """A yt-dlp ``DownloadError`` as :class:`DeadLink` or :class:`TransientError` with one line."""
    from yt_dlp.networking.exceptions import HTTPError
    from yt_dlp.utils import ExtractorError, UnsupportedError

    cause = error.exc_info[1] if getattr(error, "exc_info", None) else error
    if isinstance(cause, ExtractorError) and isinstance(cause.cause, HTTPError):
        cause = cause.cause
    line = " ".join(str(error).removeprefix("ERROR: ").split())
    if isinstance(cause, HTTPError) and cause.status in DEAD_HTTP:
        return DeadLink(f"HTTP {cause.status}")
    if isinstance(cause, UnsupportedError):
        return DeadLink(f"no video at the link ({line})")
    if isinstance(cause, ExtractorError) and any(m in line.lower() for m in DEAD_MESSAGES):
        return DeadLink(line)
    if "sign in" in line.lower():
        line += " (pass --cookies with a browser's cookies.txt)"
    return TransientError(line)


def ytdlp_options(folder: Path, name: str, config: DownloadConfig) -> dict:
    """yt-dlp's options for fetching one video into ``folder/<name>.<ext>``."""
    return {
        "outtmpl": str(folder / f"{name}.%(ext)s"), "format": FORMAT, "merge_output_format": "mp4",
        "ffmpeg_location": _ffmpeg(), "continuedl": True, "overwrites": False, "noplaylist": True,
        "retries": 0, "fragment_retries": 0, "extractor_retries": 0, "socket_timeout": config.socket_timeout_s,
        "quiet": True, "noprogress": True, "logger": _QuietLogger(),
        "cookiefile": str(config.cookies) if config.cookies else None, "ratelimit": config.rate_limit,
    }


def fetch_ytdlp(link: str, folder: Path, name: str, config: DownloadConfig) -> Path:
    """Fetch ``link`` into ``folder/<name>.<ext>`` with yt-dlp (resuming a ``.part`` file); the path
    written, or :class:`DeadLink` / :class:`TransientError`."""
    import yt_dlp

    try:
        with yt_dlp.YoutubeDL(ytdlp_options(folder, name, config)) as ydl:
            info = ydl.extract_info(link, download=True)
    except yt_dlp.utils.DownloadError as exc:
        raise classify(exc) from None
    path = Path(info["requested_downloads"][0]["filepath"]) if info.get("requested_downloads") else None
    if path is None or not path.is_file():
        raise TransientError(f"yt-dlp reported no file for {link}")
    return path


Fetch = Callable[[str, Path, str, DownloadConfig], Path]


def download_one(video: SourceVideo, config: DownloadConfig, fetch: Fetch = fetch_ytdlp,
                 sleep: Callable[[float], None] = time.sleep) -> tuple[VideoStatus, bool]:
    """Bring one video to ``done`` or ``dead`` if it can; ``(its status, fetched by this call)``."""
    existing = finished_file(config.out, video)
    status = read_status(config.out, video.key) or VideoStatus("failed", video.link)
    if existing is not None:
        if status.state != "done" or status.file != existing.name:  # fetched by hand or by S2G-MDD's script
            status = VideoStatus("done", video.link, existing.name, existing.stat().st_size, status.attempts)
            write_status(config.out, video.key, status)
        return status, False
    if status.state == "dead" and not config.retry_dead:
        return status, False
    for attempt in range(config.retries + 1):
        status.attempts += 1
        try:
            path = fetch(video.link, config.out / video.speaker, video.name, config)
        except DeadLink as exc:
            status = VideoStatus("dead", video.link, attempts=status.attempts, error=str(exc))
            break
        except TransientError as exc:
            status = VideoStatus("failed", video.link, attempts=status.attempts, error=str(exc))
            write_status(config.out, video.key, status)
            if attempt < config.retries:
                sleep(config.backoff_s * 2 ** attempt)
            continue
        status = VideoStatus("done", video.link, path.name, path.stat().st_size, status.attempts)
        write_status(config.out, video.key, status)
        return status, True
    write_status(config.out, video.key, status)
    return status, False


def _count(summary: DownloadSummary, video: SourceVideo, status: VideoStatus, fetched: bool) -> None:
    if status.state == "done":
        summary.done += 1
        summary.fetched += fetched
        summary.bytes += status.bytes if fetched else 0
        return
    setattr(summary, status.state, getattr(summary, status.state) + 1)
    summary.missing.append({"video": video.key, "link": video.link, "state": status.state, "error": status.error})


def summary_path(config: DownloadConfig) -> Path:
    """``RAW/download-summary.json``, or ``download-summary-<i>-of-<N>.json`` for a shard."""
    tail = f"-{config.shard.index}-of-{config.shard.count}" if config.shard.count > 1 else ""
    return config.out / f"{SUMMARY}{tail}.json"


def chosen_videos(config: DownloadConfig) -> tuple[list[SourceVideo], list[Interval]]:
    """The videos of this shard that the chosen intervals need, and the chosen intervals without a link."""
    intervals = read_intervals(config.intervals, config.speakers)
    chosen = [i for i, _ in select(intervals, read_split_ids(config.ids), config.split)]
    videos, no_link = needed_videos([i for i in chosen if config.shard.holds(video_key(i))])
    return videos, no_link


def download_pats(config: DownloadConfig, *, progress: bool = True, fetch: Fetch = fetch_ytdlp,
                  sleep: Callable[[float], None] = time.sleep) -> DownloadSummary:
    """Fetch every needed video of ``config`` (``jobs`` at a time); write and return the summary."""
    videos, no_link = chosen_videos(config)
    summary = DownloadSummary(no_link=len(no_link))
    summary.missing += [{"video": video_key(i), "link": "", "state": "no link",
                         "error": f"interval {i.interval_id} has no video_link"} for i in no_link]
    config.out.mkdir(parents=True, exist_ok=True)
    pool = ThreadPoolExecutor(config.jobs)
    try:
        with tqdm(total=len(videos), desc="download-pats", unit="video", disable=not progress) as bar:
            futures = {pool.submit(download_one, v, config, fetch, sleep): v for v in videos}
            for future in as_completed(futures):
                _count(summary, futures[future], *future.result())
                bar.update()
                bar.set_postfix(done=summary.done, dead=summary.dead, failed=summary.failed,
                                MB=f"{summary.bytes / 1e6:.1f}")
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # on Ctrl-C: the downloads under way finish
    summary.missing.sort(key=lambda m: m["video"])
    with atomic_path(summary_path(config)) as tmp:
        tmp.write_text(summary.to_json())
    return summary
