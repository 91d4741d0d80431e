"""Per-video face tracks: the face region, mouth LMD and lip sync score what each video itself shows.

A prediction that is GT moved inside the frame (same pixels, head elsewhere, speech unchanged) must
score the face-region metrics, mouth LMD and Sync-C/D/offset as an unmoved re-encoded copy does, up to
the detector's jitter, while the full frame sees the move; GT's track applied to both sides
(``face_track="gt"``) must not. Measured on a tiny-split clip, 24 px move (random-init SyncNet): face
PSNR copy 39.6 / moved 38.4 dB per-video (9.8 with GT's track), face SSIM 0.971 / 0.964 (0.37), Sync-C
within 0.5 %, mouth LMD 0.006 / 0.007 (0.75 under protocol v2). The tolerances below are about twice
those gaps and far below what the move costs with GT's track.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from eval.config import EvalConfig
from eval.metrics.landmarks import MOUTH, MouthLMDMetric, face_frame
from eval.protocol import Protocol
from eval.regions import BoxTrack, sync_span, track_from_points
from eval.run import evaluate
from mmgt.data.layout import AUDIO, KEYPOINTS, VIDEO
from mmgt.video_io import read_audio, read_video, write_video

FACE_METRICS = ("psnr", "ssim", "sync", "mouth_lmd")
SHIFT = 24


@pytest.fixture(scope="module")
def one_clip(tiny_split, tmp_path_factory) -> Path:
    """A GT folder with one clip of the tiny split."""
    root = tmp_path_factory.mktemp("gt1")
    clip = sorted((tiny_split / "test").iterdir())[0]
    shutil.copytree(clip, root / clip.name)
    return root


def copy_of(gt: Path, out: Path, shift: int = 0, fps: int = 25) -> Path:
    """GT re-encoded, its picture moved ``shift`` px to the right (edge column repeated) and/or retimed to ``fps``."""
    for clip in (p for p in gt.iterdir() if p.is_dir()):
        frames = read_video(clip / VIDEO)
        if shift:
            frames = np.concatenate([np.repeat(frames[:, :, :1], shift, axis=2), frames[:, :, :-shift]], axis=2)
        if fps != 25:
            frames = frames[np.round(np.arange(round(len(frames) * fps / 25)) * 25 / fps).astype(int).clip(0, len(frames) - 1)]
        (out / clip.name).mkdir(parents=True)
        write_video(out / clip.name / VIDEO, frames, fps=fps, audio=read_audio(clip / AUDIO))
    return out


@pytest.fixture(scope="module")
def scores(one_clip, tmp_path_factory):
    """Results of the unmoved copy and the moved copy, per-video tracks and GT's track."""
    tmp = tmp_path_factory.mktemp("moved")
    preds = {"copy": copy_of(one_clip, tmp / "copy"), "moved": copy_of(one_clip, tmp / "moved", SHIFT)}

    def run(name: str, track: str) -> dict:
        cfg = EvalConfig(pred=preds[name], gt=one_clip, metrics=FACE_METRICS, protocol=Protocol(face_track=track),
                         allow_untrained=True, cache_dir=tmp / "cache", progress=False)
        return evaluate(cfg)[0]

    return {(n, t): run(n, t) for n, t in (("copy", "per-video"), ("moved", "per-video"), ("moved", "gt"))}


def v(results: dict, region: str, metric: str) -> float:
    return results["metrics"][region][metric]["value"]


def test_a_moved_head_scores_as_an_unmoved_copy_on_its_own_track(scores):
    copy, moved = scores["copy", "per-video"], scores["moved", "per-video"]
    assert v(moved, "full", "psnr") < v(copy, "full", "psnr") - 15  # the full frame sees the move
    assert abs(v(moved, "face", "psnr") - v(copy, "face", "psnr")) < 2.5
    assert abs(v(moved, "face", "ssim") - v(copy, "face", "ssim")) < 0.02
    assert abs(v(moved, "landmarks", "mouth_lmd") - v(copy, "landmarks", "mouth_lmd")) < 0.005
    for metric in ("sync_c", "sync_d"):
        assert v(moved, "lip", metric) == pytest.approx(v(copy, "lip", metric), rel=0.02)
    assert v(moved, "lip", "av_offset") == v(copy, "lip", "av_offset")
    # GT's own sync is scored beside the prediction's, the same whatever the prediction
    assert v(moved, "lip", "sync_c_gt") == v(copy, "lip", "sync_c_gt")
    assert moved["metrics"]["lip"]["sync_c_gt"]["direction"] == "none"
    assert moved["clips"]["no_face_pred"] == [] and moved["metrics"]["face"]["psnr"]["n_no_face_pred_clips"] == 0


def test_gt_track_option_scores_the_moved_head_at_gts_position(scores):
    per_video, gt_track = scores["moved", "per-video"], scores["moved", "gt"]
    assert gt_track["protocol"]["face_track"] == "gt" and per_video["protocol"]["face_track"] == "per-video"
    assert v(gt_track, "face", "psnr") < v(per_video, "face", "psnr") - 15
    assert v(gt_track, "face", "ssim") < v(per_video, "face", "ssim") - 0.3
    assert v(gt_track, "landmarks", "mouth_lmd") == pytest.approx(v(per_video, "landmarks", "mouth_lmd"))  # no crop


def test_a_prediction_without_a_face_is_listed_and_left_out_of_the_face_metrics(one_clip, tmp_path):
    pred = tmp_path / "blank"
    for clip in (p for p in one_clip.iterdir() if p.is_dir()):
        frames = np.full_like(read_video(clip / VIDEO), 128)
        (pred / clip.name).mkdir(parents=True)
        write_video(pred / clip.name / VIDEO, frames, audio=read_audio(clip / AUDIO))
    res = evaluate(EvalConfig(pred=pred, gt=one_clip, metrics=("psnr", "sync"), allow_untrained=True,
                              cache_dir=tmp_path / "cache", progress=False))[0]
    (cid,) = res["clips"]["evaluated"]
    assert res["clips"]["no_face_pred"] == [cid] and res["clips"]["faces"][cid]["pred"] == 80
    face = res["metrics"]["face"]["psnr"]
    assert face["value"] is None and face["n_no_face_pred"] == 80 and face["n_no_face_pred_clips"] == 1
    lip = res["metrics"]["lip"]
    assert lip["sync_c"]["value"] is None and lip["sync_c"]["n_no_face"] == 1
    assert lip["sync_c_gt"]["value"] is not None  # GT's own video still has its face
    assert res["metrics"]["full"]["psnr"]["value"] is not None


def test_mouth_lmd_compares_lip_shapes_in_each_faces_own_frame():
    rng = np.random.default_rng(0)
    mesh = rng.uniform(50, 200, (6, 468, 2))
    angle, scale, offset = 0.3, 1.7, np.array([31.0, -12.0])
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = mesh @ rot.T * scale + offset  # the same face moved, turned in the image plane and nearer the camera
    np.testing.assert_allclose(face_frame(moved, MOUTH), face_frame(mesh, MOUTH), atol=1e-9)
    metric = MouthLMDMetric()
    metric.update("c", moved, mesh)
    assert metric.compute()["mouth_lmd"] == pytest.approx(0, abs=1e-9)
    other = mesh.copy()
    other[:, list(MOUTH)] += 5.0 * np.linalg.norm(mesh[:, 33] - mesh[:, 263], axis=-1)[:, None, None] / 100
    metric = MouthLMDMetric()
    metric.update("c", other, mesh)  # lips moved by 0.05 inter-ocular distances against the eyes
    assert metric.compute()["mouth_lmd"] == pytest.approx(0.05 * np.sqrt(2), rel=1e-6)


def _track(found: list[bool]) -> BoxTrack:
    n = len(found)
    return BoxTrack(np.zeros(n), np.zeros(n), np.ones(n), "test", np.array(found))


def test_sync_scores_the_longest_track_by_syncnet_pythons_rules():
    p = Protocol(sync_max_gap=4, sync_min_track=5)
    found = [False] * 2 + [True] * 4 + [False] * 3 + [True] * 3 + [False] * 5 + [True] * 2
    # detections at frames 2-5 and 9-11 (9 - 5 = 4 <= max gap: one track 2..11); 17-18 (6 later): another, shorter
    assert sync_span(_track(found), p) == slice(2, 12)
    assert sync_span(_track(found), Protocol(sync_max_gap=3, sync_min_track=5)) is None  # 4, 3 and 2 frames: too short
    assert sync_span(_track([False] * 10), p) is None
    assert sync_span(_track([True] * 30), Protocol()) == slice(0, 30)


def test_track_from_points_fills_frames_without_a_face_and_counts_them():
    points = np.full((5, 10, 2), np.nan)
    for t in (0, 1, 3, 4):
        points[t] = np.stack([np.linspace(10, 30, 10) + t, np.linspace(40, 60, 10)], -1)
    track = track_from_points(points, Protocol(face_smooth=1), "test")
    assert track.n_missing == 1 and not track.found[2]
    np.testing.assert_allclose(track.cx, [20, 21, 22, 23, 24])
    np.testing.assert_allclose(track.s, 10)
    assert track_from_points(np.full((3, 10, 2), np.nan), Protocol(), "test") is None


def test_a_30_fps_prediction_is_retimed_with_the_option_and_refused_without(one_clip, tmp_path):
    pred30 = copy_of(one_clip, tmp_path / "p30", fps=30)
    copy25 = copy_of(one_clip, tmp_path / "p25")

    def run(pred: Path, **protocol) -> dict:
        return evaluate(EvalConfig(pred=pred, gt=one_clip, metrics=("psnr",), regions=("full",),
                                   protocol=Protocol(**protocol), cache_dir=tmp_path / "cache", progress=False))[0]

    retimed, plain = run(pred30, fps_resample=True), run(copy25)
    (cid,) = retimed["clips"]["evaluated"]
    assert retimed["clips"]["resampled"] == {cid: {"fps": 30.0, "frames": 96, "variable_rate": False}}
    assert any("retimed" in w for w in retimed["warnings"])
    assert v(retimed, "full", "psnr") == pytest.approx(v(plain, "full", "psnr"), abs=1.0)  # the codec's second pass only
    assert retimed["protocol"]["fps_resample"] is True
    cli = subprocess.run([sys.executable, "-m", "eval.cli", "--pred", str(pred30), "--gt", str(one_clip), "--metrics", "psnr",
                          "--regions", "full", "--no-progress", "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "out")],
                         capture_output=True, text=True, timeout=300, env=os.environ)
    assert cli.returncode == 3, cli.stderr
    assert "30 fps" in cli.stderr and "--fps-resample" in cli.stderr


def test_mediapipes_native_log_lines_are_silenced(tmp_path):
    code = ("import numpy as np; from eval.extractors.mediapipe_landmarks import FaceMeshExtractor; "
            "FaceMeshExtractor().landmarks(np.zeros((2, 64, 64, 3), np.uint8))")
    quiet = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                           env={k: val for k, val in os.environ.items() if k != "MMGT_DEBUG"})
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr.strip() == ""
    loud = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "MMGT_DEBUG": "1"})
    assert "TensorFlow Lite" in loud.stderr or "W0000" in loud.stderr
