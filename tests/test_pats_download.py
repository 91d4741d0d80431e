"""download-pats against a loopback HTTP server: resumable, dead links recorded, transient ones retried."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner
from yt_dlp.networking.exceptions import HTTPError
from yt_dlp.utils import DownloadError, ExtractorError

from mmgt.data.pats_download import (DeadLink, DownloadConfig, TransientError, classify, download_pats,
                                     needed_videos, read_status)
from mmgt.data.pats_intervals import Interval
from mmgt.data.shards import Shard
from mmgt.errors import UsageError
from pats_fixtures import write_source
from pats_server import LoopbackServer, Served

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = ["dataset", "delta_time", "end_time", "interval_id", "speaker", "start_time", "video_fn", "video_link"]


def write_table(path: Path, url: str, rows: list[tuple[str, str, str, str, float, float]]) -> Path:
    """A PATS-format table; rows are (dataset, interval_id, speaker, served file, start, end)."""
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for dataset, interval_id, speaker, name, start, end in rows:
            writer.writerow([dataset, end - start, f"0:00:{end:09.6f}", interval_id, speaker, f"0:00:{start:09.6f}",
                             "", f"{url}/{name}"])
    return path


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict[str, bytes]:
    """Two small raw-style source videos, as bytes."""
    folder = tmp_path_factory.mktemp("pats_sources")
    return {name: write_source(folder / f"{name}.mp4", seconds).read_bytes()
            for name, seconds in (("a", 4.0), ("b", 6.0))}


def _invoke(*args) -> object:
    import typer

    from mmgt.cli.pats_download import register

    app = typer.Typer()
    register(app)
    app.callback()(lambda: None)  # a group: the sub-command keeps its name
    return CliRunner().invoke(app, ["download-pats", *[str(a) for a in args]])


# ---- killed mid-run, rerun: finished files are not fetched again, partial ones resume ------------

def test_killed_download_resumes_without_refetching_and_404_is_dead(sources, tmp_path):
    served = Served(files={"/a.mp4": sources["a"], "/b.mp4": sources["b"]}, stall={"/b.mp4"})
    raw = tmp_path / "raw"
    with LoopbackServer(served) as url:
        table = write_table(tmp_path / "iv.csv", url, [
            ("test", "1", "oliver", "a.mp4", 0.5, 3.9), ("test", "2", "oliver", "a.mp4", 1.0, 3.5),
            ("test", "3", "oliver", "b.mp4", 1.0, 5.0), ("test", "4", "oliver", "gone.mp4", 0.0, 4.0),
            ("train", "5", "oliver", "never.mp4", 0.0, 4.0)])
        args = ["--intervals", table, "--out", raw, "--split", "test", "--jobs", 1, "--backoff", 0, "--no-progress"]
        child = subprocess.Popen([sys.executable, "-m", "mmgt.cli", "data", "download-pats", *map(str, args)],
                                 env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE)
        try:
            assert served.stalled.wait(120), child.stderr.read().decode() if child.poll() is not None else "no stall"
            part = raw / "oliver" / "b.mp4.part"
            deadline = time.monotonic() + 30
            while not (part.is_file() and part.stat().st_size > 0) and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(30)
            child.stderr.close()
        assert (raw / "oliver" / "a.mp4").read_bytes() == sources["a"]
        assert not (raw / "oliver" / "b.mp4").exists() and part.stat().st_size > 0
        partial = part.stat().st_size
        served.release.set()
        first_run = len(served.requests)

        rerun = _invoke(*args)
        assert rerun.exit_code == 3, rerun.output
        second = served.requests[first_run:]
        assert not [r for r in second if r[0] == "/a.mp4"]  # a finished file is never fetched again
        assert f"bytes={partial}-" in served.hits("/b.mp4")  # the partial file resumed
        assert (raw / "oliver" / "b.mp4").read_bytes() == sources["b"]
        assert "/never.mp4" not in {p for p, _ in served.requests}  # a train interval: not needed for --split test
        gone = read_status(raw, "oliver/gone")
        assert (gone.state, gone.error) == ("dead", "HTTP 404")
        assert "missing oliver/gone (dead)" in rerun.output

        third = _invoke(*args)
        assert third.exit_code == 3 and len(served.requests) == first_run + len(second)  # nothing fetched
    summary = json.loads((raw / "download-summary.json").read_text())
    assert (summary["done"], summary["fetched"], summary["dead"], summary["failed"]) == (2, 0, 1, 0)
    assert [m["video"] for m in summary["missing"]] == ["oliver/gone"]


# ---- transient failures: backoff, then retried by the next run -------------------------------------

def test_transient_failures_are_retried_with_backoff_and_by_reruns(sources, tmp_path):
    served = Served(files={"/a.mp4": sources["a"], "/b.mp4": sources["b"]},
                    fail={"/a.mp4": [503, 503], "/b.mp4": [503] * 3})
    waits: list[float] = []
    with LoopbackServer(served) as url:
        table = write_table(tmp_path / "iv.csv", url, [("test", "1", "seth", "a.mp4", 0, 4), ("dev", "2", "seth", "b.mp4", 0, 4)])
        config = DownloadConfig(table, tmp_path / "raw", retries=2, backoff_s=1.5, jobs=2)
        first = download_pats(config, progress=False, sleep=waits.append)
        assert (first.done, first.failed, first.dead) == (1, 1, 0)
        assert sorted(waits) == [1.5, 1.5, 3.0, 3.0]  # two retries each, the wait doubling
        failed = read_status(config.out, "seth/b")
        assert (failed.state, failed.attempts) == ("failed", 3) and "503" in failed.error
        second = download_pats(config, progress=False, sleep=waits.append)
    assert (second.done, second.fetched, second.failed) == (2, 1, 0)
    assert read_status(config.out, "seth/b").attempts == 4
    assert (config.out / "seth" / "b.mp4").read_bytes() == sources["b"]


# ---- pieces ----------------------------------------------------------------------------------------

def test_each_needed_video_once_and_shards_are_disjoint():
    rows = [Interval(str(i), "jon", 0, 4, video_link=f"https://www.youtube.com/watch?v=Video{i % 5:06d}")
            for i in range(40)] + [Interval("x", "jon", 0, 4, video_fn="only_a_name.mp4")]
    videos, no_link = needed_videos(rows)
    assert [v.key for v in videos] == [f"jon/Video{i:06d}" for i in range(5)] and len(videos[0].interval_ids) == 8
    assert [i.interval_id for i in no_link] == ["x"]
    shards = [Shard(i, 3) for i in range(3)]
    owners = [[s.holds(v.key) for s in shards] for v in videos]
    assert all(sum(o) == 1 for o in owners)
    with pytest.raises(UsageError, match="--shard"):
        Shard.parse("3/3")


def _error(cause: Exception) -> DownloadError:
    return DownloadError(f"ERROR: {cause}", (type(cause), cause, None))


class _Response:
    status, reason, headers, url = 410, "Gone", {}, "http://127.0.0.1/x"

    def read(self, *args):
        return b""

    def close(self):
        pass


@pytest.mark.parametrize("cause, dead", [
    (ExtractorError("[youtube] abc: Video unavailable. This video has been removed by the uploader", expected=True), True),
    (ExtractorError("[youtube] abc: Private video. Sign in if you've been granted access", expected=True), True),
    (ExtractorError("[youtube] abc: Sign in to confirm you're not a bot", expected=True), False),
    (ExtractorError("[generic] x: Unable to download webpage: timed out"), False),
    (ExtractorError("[youtube] abc: Requested format is not available", expected=True), False),
])
def test_classify_tells_dead_from_transient(cause, dead):
    result = classify(_error(cause))
    assert isinstance(result, DeadLink if dead else TransientError)
    assert ("--cookies" in str(result)) == ("Sign in to confirm" in str(cause))


def test_classify_http_statuses():
    assert str(classify(_error(HTTPError(_Response())))) == "HTTP 410"


# ---- from links to a split that mmgt-eval check accepts ------------------------------------------

def test_downloaded_videos_prepare_into_a_split_that_check_accepts(sources, tmp_path):
    import typer

    from mmgt import pose
    from mmgt.cli.pats import register
    from pats_fixtures import BandReader

    served = Served(files={"/a.mp4": sources["a"], "/b.mp4": sources["b"]})
    raw, out = tmp_path / "raw", tmp_path / "split"
    with LoopbackServer(served) as url:
        table = write_table(tmp_path / "iv.csv", url, [
            ("test", "1", "oliver", "a.mp4", 0.5, 4.0), ("test", "2", "jon", "b.mp4", 1.0, 5.0),
            ("test", "3", "seth", "gone.mp4", 0.0, 4.0)])
        assert _invoke("--intervals", table, "--out", raw, "--no-progress").exit_code == 3
    app = typer.Typer()
    app.callback()(lambda: None)
    register(app)
    pose.register("band-reader", BandReader)
    try:
        prepare = ["prepare-pats", "--intervals", table, "--videos", raw, "--out", out, "--size", 128,
                   "--extractor", "band-reader", "--no-progress"]
        first = CliRunner().invoke(app, [str(a) for a in prepare])
        rerun = CliRunner().invoke(app, [str(a) for a in prepare])
    finally:
        pose.unregister("band-reader")
    assert first.exit_code == 0 and "intervals_prepared: 2" in first.output and "dead link: 1" in first.output
    assert rerun.exit_code == 0 and "intervals_reused: 2" in rerun.output, rerun.output
    from eval.cli import app as eval_app

    check = CliRunner().invoke(eval_app, ["check", "--pred", str(out / "test"), "--gt", str(out)])
    assert check.exit_code == 0 and "0 problem(s)" in check.output, check.output


def test_files_fetched_before_by_hand_or_by_s2g_mdd_are_adopted_not_fetched(sources, tmp_path):
    served = Served(files={"/clips/episode-4a7b": sources["a"]})
    raw = tmp_path / "raw"
    (raw / "jon").mkdir(parents=True)
    (raw / "jon" / "4a7b.mp4").write_bytes(sources["a"])  # S2G-MDD's name: the link's last 4 characters
    with LoopbackServer(served) as url:
        table = write_table(tmp_path / "iv.csv", url, [("test", "1", "jon", "clips/episode-4a7b", 0, 4)])
        summary = download_pats(DownloadConfig(table, raw), progress=False)
    assert served.requests == [] and (summary.done, summary.fetched) == (1, 0)
    status = read_status(raw, "jon/episode-4a7b")
    assert (status.state, status.file, status.bytes) == ("done", "4a7b.mp4", len(sources["a"]))


def test_dry_run_counts_what_is_needed_without_fetching(tmp_path):
    table = write_table(tmp_path / "iv.csv", "http://127.0.0.1:9", [
        ("test", "1", "oliver", "a.mp4", 0, 4), ("test", "2", "oliver", "a.mp4", 4, 8),
        ("train", "3", "jon", "b.mp4", 0, 4), ("test", "4", "jon", "c.mp4", 0, 4)])
    result = _invoke("--intervals", table, "--out", tmp_path / "raw", "--split", "test", "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["jon: 1 videos for 1 intervals (0 intervals without a link)",
                                          "oliver: 1 videos for 2 intervals (0 intervals without a link)",
                                          "total: 2 videos for 3 intervals"]
    assert not (tmp_path / "raw").exists()


def test_cookies_and_rate_limit_reach_yt_dlp(tmp_path):
    from mmgt.cli.pats_download import parse_rate
    from mmgt.data.pats_download import ytdlp_options

    assert (parse_rate("500K"), parse_rate("2M"), parse_rate(None)) == (500 * 1024, 2 * 1024 ** 2, None)
    with pytest.raises(UsageError, match="--rate-limit"):
        parse_rate("fast")
    config = DownloadConfig(tmp_path / "iv.csv", tmp_path, cookies=tmp_path / "cookies.txt", rate_limit=parse_rate("1M"))
    options = ytdlp_options(tmp_path / "jon", "abc", config)
    assert (options["cookiefile"], options["ratelimit"]) == (str(tmp_path / "cookies.txt"), 1024 ** 2)
    assert options["outtmpl"] == str(tmp_path / "jon" / "abc.%(ext)s") and options["continuedl"]
    assert ytdlp_options(tmp_path, "abc", DownloadConfig(tmp_path, tmp_path))["cookiefile"] is None
