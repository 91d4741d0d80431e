"""The landmark metrics through the harness on the tiny synthetic split (real MediaPipe models).

One feature cache serves the module, so GT's landmarks are detected once (holistic is the cost:
~33 ms per 256x256 frame, 2 clips x 80 frames per video).
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from eval.config import LANDMARK_METRICS, EvalConfig
from eval.harness import Evaluator
from eval.merge import merge_shards
from eval.run import evaluate, per_clip_rows, write_partial
from eval.table import ADDED_NOTE, runs_table
from mmgt.video_io import FPS, read_audio, read_video, write_video

SHIFT_S = 0.8


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("landmark_cache")


@pytest.fixture(scope="module")
def shifted(method_outputs, tmp_path_factory) -> Path:
    """GT clips whose picture (and keypoints) are shifted 0.8 s against the speech, circularly."""
    out = tmp_path_factory.mktemp("shifted") / "shifted"
    shutil.copytree(method_outputs["gt"], out)
    k = int(SHIFT_S * FPS)
    for clip in (d for d in out.iterdir() if d.is_dir()):
        frames = read_video(clip / "video.mp4")
        np.save(clip / "keypoints.npy", np.roll(np.load(clip / "keypoints.npy"), k, axis=0))
        write_video(clip / "video.mp4", np.roll(frames, k, axis=0), audio=read_audio(clip / "audio.wav", 16_000))
    return out


def config(pred: Path, gt: Path, cache: Path, metrics: tuple[str, ...] = LANDMARK_METRICS, **kw) -> EvalConfig:
    return EvalConfig(pred=pred, gt=gt, metrics=metrics, cache_dir=cache, progress=False, **kw)


def landmarks(results: dict) -> dict[str, float]:
    return {out: entry["value"] for out, entry in results["metrics"]["landmarks"].items()}


@pytest.fixture(scope="module")
def runs(tiny_split, method_outputs, shifted, cache) -> dict[str, dict]:
    return {
        "gt": evaluate(config(method_outputs["gt"], tiny_split, cache))[0],
        "still": evaluate(config(method_outputs["still"], tiny_split, cache))[0],
        "shifted": evaluate(config(shifted, tiny_split, cache, metrics=("lip_audio",)))[0],
    }


def test_gt_against_itself_is_ideal(runs):
    gt = landmarks(runs["gt"])
    assert gt["mouth_lmd"] == 0.0 and gt["pose_err"] == 0.0 and gt["pck"] == 1.0
    assert gt["lip_audio_corr"] == gt["lip_audio_corr_gt"] > 0.8  # the synthetic mouths follow the speech
    entry = runs["gt"]["metrics"]["landmarks"]["mouth_lmd"]
    assert entry["n_frames"] == 160 and entry["n_no_face_gt"] == 0 and entry["n_scored"] == 160
    assert entry["extractor"] == "facemesh" and entry["untrained"] is False
    assert runs["gt"]["metrics"]["landmarks"]["pose_err"]["n_no_body_gt"] == 0
    assert set(runs["gt"]["extractors"]) == {"facemesh", "holistic"}
    assert all(len(h) == 64 for h in runs["gt"]["extractors"]["holistic"]["model_files"].values())


def test_a_still_picture_scores_clearly_worse(runs):
    gt, still = landmarks(runs["gt"]), landmarks(runs["still"])
    assert still["lip_audio_corr"] == 0.0  # a constant mouth
    assert runs["still"]["metrics"]["landmarks"]["lip_audio_corr"]["n_constant_pred"] == 2
    assert still["lip_audio_corr_gt"] == gt["lip_audio_corr_gt"]
    assert still["mouth_lmd"] > 0.05 and still["pose_err"] > 0.1 and still["pck"] < 0.6


def test_picture_shifted_against_the_speech_loses_the_correlation(runs):
    shifted, gt = landmarks(runs["shifted"]), landmarks(runs["gt"])
    assert abs(shifted["lip_audio_corr"]) < 0.35  # 2 clips of 80 frames: +-0.3 is noise
    assert gt["lip_audio_corr"] - shifted["lip_audio_corr"] > 0.6
    assert shifted["lip_audio_corr_gt"] == gt["lip_audio_corr_gt"]


def test_shards_merge_to_the_single_run_exactly(runs, tiny_split, method_outputs, cache, tmp_path):
    cfg = config(method_outputs["still"], tiny_split, cache)
    shards = []
    for i in range(2):
        res, states, _ = evaluate(replace(cfg, shard=(i, 2)))
        shards.append(write_partial(cfg, states, res, tmp_path / f"shard{i}"))
    merged, run_dir = merge_shards(shards[::-1], tmp_path / "merged")
    without_intervals = lambda entries: {k: {f: v for f, v in e.items() if not f.startswith("ci95")} for k, e in entries.items()}
    assert without_intervals(merged["metrics"]["landmarks"]) == runs["still"]["metrics"]["landmarks"]  # written runs add ci95
    table = runs_table([run_dir])
    assert "landmarks* mouth LMD↓" in table and "lip-audio corr (GT)" in table and ADDED_NOTE in table


def test_landmarks_are_cached_per_video_and_reused(runs, tiny_split, method_outputs, cache, monkeypatch):
    cfg = config(method_outputs["still"], tiny_split, cache, metrics=("mouth_lmd", "pose_error"))  # new contributions
    ev = Evaluator(cfg)
    monkeypatch.setattr(ev.extractors, "landmarks", lambda *a: pytest.fail("detected landmarks again"))
    results, states, _ = evaluate(cfg, ev)
    assert landmarks(results) == {
        k: v for k, v in landmarks(runs["still"]).items() if k in ("mouth_lmd", "pose_err", "pck")}
    rows = per_clip_rows(states, results)
    assert {(r["metric"], r["clip_id"]) for r in rows} == {
        (m, c) for m in ("mouth_lmd", "pose_err", "pck") for c in runs["still"]["clips"]["evaluated"]}
