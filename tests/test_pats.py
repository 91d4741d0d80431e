"""PATS preparation on raw-style inputs: long landscape 30 fps videos with audio, a PATS-like CSV."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from mmgt import keypoints as K
from mmgt import pose
from mmgt.data.layout import Split
from mmgt.data.pats import SPEAKER_CROP, SUMMARY, PatsConfig, prepare_pats, square_crop
from mmgt.data.pats_intervals import (SPEAKERS, Interval, SplitIds, parse_time, read_intervals, read_split_ids, select,
                                     source_names)
from mmgt.data.source_media import read_interval
from mmgt.data.windows import WindowSpec
from mmgt.errors import DataError, MMGTError
from mmgt.video_io import write_video
from pats_fixtures import CODE_ROWS, SRC_FPS, SRC_H, SRC_W, STEP_AT, BandReader, source_index, write_source

@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    """videos/ with one 8 s source (as video_fn and as a YouTube-id file for jon) and a corrupt one."""
    root = tmp_path_factory.mktemp("pats_raw")
    videos = root / "videos"
    write_source(videos / "show_a.mp4", 8.0)
    (videos / "jon").mkdir()
    shutil.copy(videos / "show_a.mp4", videos / "jon" / "AbCdEfGhIjK.mp4")
    (videos / "chemistry").mkdir()
    (videos / "chemistry" / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    rows = [  # PATS columns; times in the clock format of cmu_intervals_df.csv
        ("train", 5.0, "0:00:06.000000", "1001", "oliver", "0:00:01.000000", "show_a.mp4", ""),
        ("test", 4.0, "0:00:04.500000", "1002", "jon", "0:00:00.500000", "",
         "https://www.youtube.com/watch?v=AbCdEfGhIjK"),
        ("test", 4.0, "0:00:05.000000", "1003", "seth", "0:00:01.000000", "gone.mp4", ""),
        ("test", 4.0, "0:00:05.000000", "1004", "chemistry", "0:00:01.000000", "broken.mp4", ""),
        ("test", 1.0, "0:00:03.000000", "1005", "oliver", "0:00:02.000000", "show_a.mp4", ""),
        ("test", 4.0, "0:00:05.000000", "2000", "bee", "0:00:01.000000", "show_a.mp4", ""),
    ]
    with open(root / "intervals.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["dataset", "delta_time", "end_time", "interval_id", "speaker", "start_time",
                         "video_fn", "video_link"])
        writer.writerows(rows)
    return root


@pytest.fixture(scope="module")
def prepared(raw) -> tuple[Path, object]:
    out = raw / "split"
    config = PatsConfig(raw / "intervals.csv", raw / "videos", out, max_seconds=4.5)
    return out, prepare_pats(config, BandReader(), progress=False)


# ---- the prepared split -----------------------------------------------------------------------

def test_prepared_split_follows_the_layout(prepared):
    out, summary = prepared
    split = Split(out)
    assert split.validate() == []
    by_interval = {}
    for r in split.records:
        by_interval.setdefault(r.source_id, []).append((r.frame_start, r.frame_end))
        assert (r.split, r.fps, r.width, r.height, r.n_frames) == ({"1001": "train"}.get(r.source_id, "test"), 25, 256, 256, 80)
    # 1001: 5 s capped at 4.5 s = 112 frames -> windows at 0, 13, 25; 1002: 4 s = 100 frames -> 0, 13
    assert by_interval == {"1001": [(0, 80), (13, 93), (25, 105)], "1002": [(0, 80), (13, 93)]}
    assert summary.prepared == {"1001": 3, "1002": 2}
    assert json.loads((out / "meta.json").read_text())["pose_extractor"] == {"extractor": "band-reader"}


def test_missing_broken_and_short_sources_are_listed_not_fatal(prepared):
    out, summary = prepared
    saved = json.loads((out / SUMMARY).read_text())
    reasons = {s["interval_id"]: s["reason"] for s in saved["skipped"]}
    assert reasons == {"1003": "missing", "1004": "broken", "1005": "too short"}
    assert "broken.mp4" in next(s["detail"] for s in saved["skipped"] if s["interval_id"] == "1004")
    assert saved["counts"] == {"intervals_prepared": 2, "intervals_reused": 0, "clips": 5, "not selected": 0,
                              "missing": 1, "broken": 1, "too short": 1}


def test_frames_are_retimed_to_25fps_by_timestamp(prepared):
    out, _ = prepared
    for clip in Split(out).clips():
        r = clip.record
        frames = clip.frames()
        got = [source_index(f) for f in frames]
        times = r.source_start + (r.frame_start + np.arange(r.n_frames)) / 25
        assert got == list(np.round(times * SRC_FPS).astype(int)), clip.clip_id


@pytest.mark.parametrize("speaker", ["oliver", "jon"])
def test_square_crop_keeps_the_speakers_columns(prepared, speaker):
    out, _ = prepared
    clip = Split(out).clips(speakers=[speaker])[0]
    x0, side = square_crop(speaker, SRC_W, SRC_H)
    assert side == 256 and x0 == {"oliver": int(0.38 * SRC_W), "jon": SRC_W - 256}[speaker]
    ramp = clip.frames()[0, 20:160, :, 0].astype(float).mean(axis=0)
    columns = np.arange(8, 40)  # away from the wrap of x mod 256
    assert np.abs(ramp[columns] - (x0 + columns) % 256).max() < 3


def test_audio_is_cut_at_the_interval_start(prepared):
    out, _ = prepared
    clip = next(c for c in Split(out).clips() if c.record.source_id == "1001" and c.record.frame_start == 25)
    wav = clip.audio()
    assert wav.shape == (80 * 640,)
    envelope = np.sqrt(np.convolve(wav ** 2, np.ones(160) / 160, mode="same"))
    drop = STEP_AT - 1.0 - 25 / 25  # seconds into the clip
    loud, quiet = envelope[: int((drop - 0.1) * 16000)], envelope[int((drop + 0.1) * 16000):]
    assert loud.mean() > 5 * quiet.mean()
    crossing = np.argmax(envelope < (loud.mean() + quiet.mean()) / 2)
    assert abs(crossing / 16000 - drop) < 0.03


def test_keypoints_are_sliced_with_their_frames_and_lower_body_zeroed(prepared):
    out, _ = prepared
    for clip in Split(out).clips():
        kp, frames = clip.keypoints(), clip.frames()
        band = frames[:, CODE_ROWS[1]].mean(axis=(1, 2, 3))
        np.testing.assert_allclose(kp[:, 0, 0], band, atol=3)
        assert (kp[:, list(K.LOWER_BODY)] == 0).all() and (kp[:, 0, 2] == 1).all()


# ---- pieces -----------------------------------------------------------------------------------

def test_square_crop_offsets_at_720p():
    assert tuple(SPEAKER_CROP) == SPEAKERS
    assert square_crop("oliver", 1280, 720) == (486, 720)
    assert square_crop("seth", 1280, 720) == (505, 720)
    assert square_crop("chemistry", 1280, 720) == (39, 720)
    assert square_crop("jon", 1280, 720) == (560, 720)


def test_parse_time_formats():
    assert parse_time("57.5") == 57.5
    assert parse_time("0:01:02.25") == 62.25
    assert parse_time("2016-01-01 00:01:02.250000") == 62.25
    with pytest.raises(ValueError):
        parse_time("soon")


def test_read_intervals_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("interval_id,speaker,start_time\n1,oliver,0\n")
    with pytest.raises(DataError, match=r"bad\.csv: interval table lacks columns \['end_time', 'video_fn or video_link'\]"):
        read_intervals(bad)
    bad.write_text("interval_id,speaker,start_time,end_time,video_fn\n1,oliver,0,later,a.mp4\n")
    with pytest.raises(DataError, match=r"bad\.csv: line 2: not a time"):
        read_intervals(bad)
    with pytest.raises(DataError, match="not found"):
        read_intervals(tmp_path / "none.csv")


def test_source_names_from_fn_and_links():
    iv = Interval("1", "jon", 0, 1, video_link="https://www.youtube.com/watch?v=AbCdEfGhIjK&t=3")
    assert source_names(iv)[:3] == ["AbCdEfGhIjK.mp4", "AbCdEfGhIjK.mkv", "AbCdEfGhIjK.webm"]
    iv = Interval("1", "jon", 0, 1, video_fn="sub/x.mp4", video_link="http://cc.com/clips/4a7b")
    assert source_names(iv)[0] == "x.mp4" and "4a7b.mp4" in source_names(iv)


def _row(interval_id: str, dataset: str = "") -> Interval:
    return Interval(interval_id, "oliver", 0.0, 4.0, video_fn="a.mp4", dataset=dataset)


def test_split_id_files(tmp_path):
    by_column = read_split_ids(None)
    assert [by_column.split_of(_row("9", d)) for d in ("train", "dev", "test", "")] == ["train", "dev", "test", "test"]
    text = tmp_path / "test_ids.txt"
    text.write_text("# held out\n1002\n")
    ids = read_split_ids(text)
    assert (ids.split_of(_row("1002", "train")), ids.split_of(_row("1001", "test"))) == ("test", "train")
    js = tmp_path / "filtered_intervals.json"
    js.write_text(json.dumps({"train": [1001], "test": [1002]}))
    ids = read_split_ids(js)
    assert [ids.split_of(_row(i, "dev")) for i in ("1001", "1002", "7")] == ["train", "test", None]
    js.write_text("[1, 2]")
    with pytest.raises(DataError, match="filtered_intervals.json"):
        read_split_ids(js)


def test_select_keeps_the_chosen_split_in_table_order():
    rows = [_row("1", "train"), _row("2", "test"), _row("3", "dev"), _row("4", "test")]
    assert [(i.interval_id, s) for i, s in select(rows, read_split_ids(None), "test")] == [("2", "test"), ("4", "test")]
    assert len(select(rows, read_split_ids(None), "all")) == 4
    only = SplitIds({"4": "test", "1": "train"})
    assert [i.interval_id for i, _ in select(rows, only, "all")] == ["1", "4"]


def test_config_rejects_unknown_speakers_and_odd_sizes(tmp_path):
    with pytest.raises(MMGTError, match="unknown PATS speakers \\['chem'\\]"):
        PatsConfig(tmp_path, tmp_path, tmp_path, speakers=("chem",))
    with pytest.raises(MMGTError, match="even"):
        PatsConfig(tmp_path, tmp_path, tmp_path, sizes=(255,))


def test_read_interval_stops_where_the_video_ends(raw):
    media = read_interval(raw / "videos" / "show_a.mp4", 7.0, 3.0)
    assert len(media.frames[0]) == 25 and media.audio.shape == (25 * 640,)  # 7.0 s .. 8.0 s
    with pytest.raises(DataError, match="show_a.mp4"):
        read_interval(raw / "videos" / "show_a.mp4", 9.0, 3.0)


# ---- the command ------------------------------------------------------------------------------

@pytest.fixture
def invoke():
    """Run the data commands (on a bare typer app) with the band-reader extractor registered."""
    import typer

    from mmgt.cli.pats import register

    app = typer.Typer()
    register(app)
    pose.register("band-reader", BandReader)
    yield lambda *args: CliRunner().invoke(app, [str(a) for a in args])
    pose.unregister("band-reader")


def test_prepare_pats_command_with_test_ids_and_resize(raw, tmp_path, invoke):
    ids = tmp_path / "test_ids.txt"
    ids.write_text("1002\n")
    result = invoke("prepare-pats", "--intervals", raw / "intervals.csv", "--videos", raw / "videos",
                    "--out", tmp_path / "out", "--speakers", "oliver,jon", "--extractor", "band-reader",
                    "--size", 128, "--max-seconds", 3.4, "--step", 1.0, "--test-ids", ids, "--no-progress")
    assert result.exit_code == 0, result.output
    assert "clips: 2" in result.output and "too short" in result.output
    split = Split(tmp_path / "out")
    assert split.validate() == []
    assert {(r.source_id, r.split, r.width) for r in split.records} == {("1001", "train", 128), ("1002", "test", 128)}


def test_extract_pose_command_on_a_file_and_a_folder(prepared, tmp_path, invoke):
    out, _ = prepared
    clip = Split(out).clips()[0]
    folder = tmp_path / "pred"
    for name in ("a", "b"):
        (folder / name).mkdir(parents=True)
        shutil.copy(clip.video_path, folder / name / "video.mp4")
    np.save(folder / "b" / "keypoints.npy", np.zeros((1, 134, 3), np.float32))
    single = invoke("extract-pose", clip.video_path, "--out", tmp_path / "k.npy", "--extractor", "band-reader")
    batch = invoke("extract-pose", folder, "--extractor", "band-reader")
    assert single.exit_code == 0 and batch.exit_code == 0, single.output + batch.output
    np.testing.assert_allclose(np.load(tmp_path / "k.npy"), BandReader()(clip.frames()))
    assert np.load(folder / "a" / "keypoints.npy").shape == (80, 134, 3)
    assert np.load(folder / "b" / "keypoints.npy").shape == (1, 134, 3)  # kept: no --overwrite
    assert "wrote 1 keypoint file(s)" in batch.output and "1 already present" in batch.output


@pytest.mark.slow
def test_prepare_pats_with_mediapipe_on_a_raw_synthetic_speaker(tmp_path):
    """End to end on a rendered speaker: extracted keypoints land on the cropped ground truth."""
    from mmgt.data.synth.generate import render_interval

    it = render_interval(0, 4.0)  # 456x256 at 30 fps
    write_video(tmp_path / "videos" / "s.mp4", it.frames, fps=30, audio=it.audio)
    (tmp_path / "iv.csv").write_text("interval_id,speaker,start_time,end_time,video_fn\n"
                                     "7,oliver,0:00:00.4,0:00:03.8,s.mp4\n")
    config = PatsConfig(tmp_path / "iv.csv", tmp_path / "videos", tmp_path / "out", window=WindowSpec(3.2, 1.0))
    summary = prepare_pats(config, pose.create("mediapipe"), progress=False)
    assert summary.counts() == {"intervals_prepared": 1, "intervals_reused": 0, "clips": 1, "not selected": 0}
    kp = Split(tmp_path / "out").clips()[0].keypoints()
    gt = it.keypoints[np.round(30 * (0.4 + np.arange(80) / 25)).astype(int)].copy()
    gt[..., 0] -= square_crop("oliver", 456, 256)[0]
    error = np.linalg.norm(kp[..., :2] - gt[..., :2], axis=-1)
    assert np.median(error[:, list(K.FACE)]) < 4 and np.median(error[:, [0, 1, 2, 5]]) < 15
