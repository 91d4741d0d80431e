"""prepare-pats: splits from the dataset column or an id file, reruns that skip finished intervals,
several sizes from one decode, shards that merge, workers, and missing sources told apart."""

from __future__ import annotations

import csv
import json
import os
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import mmgt.data.pats as pats
from mmgt.data.layout import Split, read_manifest
from mmgt.data.pats import PatsConfig, merge_shards, prepare_pats
from mmgt.data.pats_download import VideoStatus, write_status
from mmgt.data.pats_state import STATE_DIR
from mmgt.data.shards import Shard
from pats_fixtures import BandReader, write_source

COLUMNS = ["dataset", "delta_time", "end_time", "interval_id", "speaker", "start_time", "video_fn", "video_link"]
# (dataset, interval id, speaker, source, start, end): 3.8 s -> 95 frames -> windows at 0 and 13
ROWS = [
    ("train", "t1", "oliver", "v1", 0.2, 4.0), ("train", "t2", "seth", "v2", 0.5, 4.3),
    ("test", "s1", "oliver", "v1", 1.0, 4.8), ("test", "s2", "jon", "v3", 0.0, 3.8),
    ("test", "s3", "chemistry", "v4", 0.5, 4.3), ("dev", "d1", "seth", "v2", 1.0, 4.8),
    ("test", "x1", "oliver", "dead", 0.0, 4.0), ("test", "x2", "jon", "never", 0.0, 4.0),
]


class CountingReader(BandReader):
    """BandReader that counts the frames it was asked for (calls made in this process)."""

    frames_seen: list[int] = []

    def extract(self, frames):
        CountingReader.frames_seen.append(len(frames))
        return super().extract(frames)


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    """Sources in download-pats' layout (RAW/<speaker>/<name>.mp4), a PATS table, a dead status file."""
    root = tmp_path_factory.mktemp("pats_resume")
    videos = root / "raw"
    first = write_source(root / "source.mp4", 5.0)
    for speaker, name in {(r[2], r[3]) for r in ROWS if r[3] not in ("dead", "never")}:
        (videos / speaker).mkdir(parents=True, exist_ok=True)
        shutil.copy(first, videos / speaker / f"{name}.mp4")
    write_status(videos, "oliver/dead", VideoStatus("dead", "https://example.invalid/dead.mp4", error="HTTP 404"))
    with open(root / "iv.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for dataset, interval_id, speaker, name, start, end in ROWS:
            writer.writerow([dataset, end - start, f"0:00:{end:09.6f}", interval_id, speaker, f"0:00:{start:09.6f}",
                             "", f"https://example.invalid/{name}.mp4"])
    (root / "filtered_intervals.json").write_text(json.dumps({"train": ["t1"], "test": ["s1", "s2", "x1"]}))
    return root


def _config(raw: Path, out: Path, **kwargs) -> PatsConfig:
    return PatsConfig(raw / "iv.csv", raw / "raw", out, sizes=kwargs.pop("sizes", (64,)), **kwargs)


def _clips(root: Path) -> dict[str, tuple]:
    return {r.clip_id: (r.split, r.source_id, r.frame_start, r.frame_end) for r in read_manifest(root / "manifest.csv")}


def test_dataset_column_decides_and_dead_links_are_told_from_missing_sources(raw, tmp_path):
    summary = prepare_pats(_config(raw, tmp_path / "all"), BandReader(), progress=False)
    clips = _clips(tmp_path / "all")
    assert {v[:2] for v in clips.values()} == {("train", "t1"), ("train", "t2"), ("test", "s1"), ("test", "s2"),
                                              ("test", "s3"), ("dev", "d1")}
    reasons = {s["interval_id"]: (s["reason"], s["detail"]) for s in summary.skipped}
    assert reasons["x1"][0] == "dead link" and "HTTP 404" in reasons["x1"][1]
    assert reasons["x2"][0] == "missing" and "not downloaded" in reasons["x2"][1]


def test_split_file_and_split_test_prepare_only_the_listed_test_intervals_in_paper_windows(raw, tmp_path):
    out = tmp_path / "test"
    summary = prepare_pats(_config(raw, out, ids=raw / "filtered_intervals.json", split="test"), BandReader(),
                           progress=False)
    split = Split(out)
    assert split.validate() == []
    assert sorted({r.source_id for r in split.records}) == ["s1", "s2"] and {r.split for r in split.records} == {"test"}
    # 3.8 s at 25 fps = 95 frames: 3.2 s (80-frame) windows every 0.5 s start at frames 0 and 13 (12.5 rounded)
    assert sorted((r.source_id, r.frame_start, r.frame_end) for r in split.records) == [
        ("s1", 0, 80), ("s1", 13, 93), ("s2", 0, 80), ("s2", 13, 93)]
    assert summary.not_selected == len(ROWS) - 3 and [s["interval_id"] for s in summary.skipped] == ["x1"]


def test_rerun_skips_every_finished_interval_and_redoes_what_changed(raw, tmp_path):
    config = _config(raw, tmp_path / "out")
    CountingReader.frames_seen.clear()
    first = prepare_pats(config, CountingReader(), progress=False)
    assert len(CountingReader.frames_seen) == 6 and first.reused == 0
    before = _clips(config.out)

    CountingReader.frames_seen.clear()
    again = prepare_pats(config, CountingReader(), progress=False)
    assert CountingReader.frames_seen == [] and again.reused == len(first.prepared) == 6
    assert _clips(config.out) == before and again.counts()["clips"] == first.counts()["clips"]

    # a changed source (new content, new mtime) redoes the intervals that read it; a deleted clip file its interval
    seth = raw / "raw" / "seth" / "v2.mp4"
    backup = seth.read_bytes()
    try:
        write_source(seth, 5.2)
        (config.out / "test" / next(c for c, v in before.items() if v[1] == "s2") / "keypoints.npy").unlink()
        CountingReader.frames_seen.clear()
        third = prepare_pats(config, CountingReader(), progress=False)
    finally:
        seth.write_bytes(backup)
    assert len(CountingReader.frames_seen) == 3 and third.reused == 3  # t2 and d1 (seth), s2 (its clip)
    assert Split(config.out).validate() == []


def test_an_interrupted_run_continues_where_it_stopped(raw, tmp_path, monkeypatch):
    config = _config(raw, tmp_path / "out")
    original, calls = pats.prepare_interval, []

    def interrupted(job, config, extractor):
        assert (config.out / "meta.json").is_file()  # claimed from the start: a shard started meanwhile may join
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(job.interval.interval_id)
        return original(job, config, extractor)

    monkeypatch.setattr(pats, "prepare_interval", interrupted)
    with pytest.raises(KeyboardInterrupt):
        prepare_pats(config, BandReader(), progress=False)
    assert sorted(p.stem for p in (config.out / STATE_DIR).rglob("*.json")) == sorted(calls)
    assert {v[1] for v in _clips(config.out).values()} == set(calls)  # the manifest lists what was finished
    monkeypatch.setattr(pats, "prepare_interval", original)
    summary = prepare_pats(config, BandReader(), progress=False)
    assert summary.reused == 2 and len(summary.prepared) == 6


def test_two_sizes_share_one_decode_and_equal_separate_runs(raw, tmp_path, monkeypatch):
    decodes = []
    original = pats.read_interval
    monkeypatch.setattr(pats, "read_interval", lambda *a, **k: decodes.append(a[0]) or original(*a, **k))
    both = _config(raw, tmp_path / "both", sizes=(64, 128), split="test")
    prepare_pats(both, BandReader(), progress=False)
    assert len(decodes) == 3  # s1, s2, s3: once each for both sizes
    for size in (64, 128):
        alone = _config(raw, tmp_path / f"alone{size}", sizes=(size,), split="test")
        prepare_pats(alone, BandReader(), progress=False)
        pair, single = Split(both.root(size)), Split(alone.out)
        assert [r.width for r in pair.records] == [size] * len(single.records) and pair.records == single.records
        for a, b in zip(pair.clips(), single.clips()):
            np.testing.assert_array_equal(a.keypoints(), b.keypoints())
            np.testing.assert_array_equal(a.frames(), b.frames())


def test_shards_are_disjoint_and_merge_into_the_unsharded_split(raw, tmp_path):
    whole = _config(raw, tmp_path / "whole")
    prepare_pats(whole, BandReader(), progress=False)
    sharded = _config(raw, tmp_path / "sharded")
    parts = [prepare_pats(replace(sharded, shard=Shard(i, 2)), BandReader(), progress=False) for i in range(2)]
    assert not set(parts[0].prepared) & set(parts[1].prepared)
    assert not (sharded.out / "manifest.csv").exists()
    merge_shards(sharded.out)
    assert _clips(sharded.out) == _clips(whole.out) and Split(sharded.out).validate() == []


@pytest.mark.parametrize("make_extractor", [None, BandReader], ids=["forked", "spawned-own-extractor"])
def test_workers_give_the_same_split(raw, tmp_path, make_extractor):
    one = _config(raw, tmp_path / "one", split="test")
    two = replace(one, out=tmp_path / "two", workers=2)
    prepare_pats(one, BandReader(), progress=False)
    prepare_pats(two, BandReader(), make_extractor=make_extractor, progress=False)
    assert read_manifest(one.out / "manifest.csv") == read_manifest(two.out / "manifest.csv")
    for a, b in zip(Split(one.out).clips(), Split(two.out).clips()):
        np.testing.assert_array_equal(a.keypoints(), b.keypoints())
    assert os.listdir(two.out / STATE_DIR) == os.listdir(one.out / STATE_DIR)


@pytest.mark.slow  # renders four speakers; the fast check of the same is the split-file test above
def test_standin_split_file_and_split_test_give_its_test_intervals_in_paper_windows(tmp_path):
    from mmgt.data.synth.pats_standin import StandInConfig, write_sources, write_tables

    standin = StandInConfig(videos_per_speaker=1, video_seconds=8.0, interval_seconds=4.0)
    write_sources(tmp_path / "sources", standin)
    table, split_file = write_tables(tmp_path, "https://example.invalid", standin)
    chosen = json.loads(split_file.read_text())
    rows = list(csv.DictReader(open(table)))
    assert len(rows) == 8 and {r["dataset"] for r in rows} == {"train", "test", "dev"}
    config = PatsConfig(table, tmp_path / "sources", tmp_path / "out", ids=split_file, split="test")
    summary = prepare_pats(config, BandReader(), progress=False)
    records = Split(config.out).records
    assert sorted({r.source_id for r in records}) == sorted(map(str, chosen["test"])) == ["100002"]
    # a 4 s interval is 100 frames: 80-frame windows every 12.5 frames start at 0 and 13
    assert [(r.split, r.frame_start, r.frame_end) for r in records] == [("test", 0, 80), ("test", 13, 93)]
    assert summary.not_selected == 7 and summary.skipped == []
