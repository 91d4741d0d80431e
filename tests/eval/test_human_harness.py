"""The half-body papers' metrics through the harness on the tiny synthetic split.

Jitter and beat alignment read the methods' keypoint files (fast); HKC/HKV (MediaPipe) and CSIM (dlib)
run their real models on every video (slow).
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from eval.bootstrap import add_intervals
from eval.config import DEFAULT_METRICS, HUMAN_METRICS, HUMAN_WEIGHTS_METRICS, EvalConfig
from eval.merge import merge_shards
from eval.run import evaluate, write_partial

MOTION = ("jitter", "beat_align")


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("human_cache")


@pytest.fixture(scope="module")
def noisy(method_outputs, tmp_path_factory) -> Path:
    """GT clips whose keypoint files carry Gaussian noise of 2 px (the videos untouched)."""
    out = tmp_path_factory.mktemp("noisy") / "noisy"
    shutil.copytree(method_outputs["gt"], out)
    rng = np.random.default_rng(0)
    for clip in (d for d in out.iterdir() if d.is_dir()):
        kp = np.load(clip / "keypoints.npy")
        kp[..., :2] += rng.normal(0, 2.0, kp[..., :2].shape).astype(np.float32)
        np.save(clip / "keypoints.npy", kp)
    return out


def config(pred: Path, gt: Path, cache: Path, metrics: tuple[str, ...] = MOTION, **kw) -> EvalConfig:
    return EvalConfig(pred=pred, gt=gt, metrics=metrics, regions=("full",), cache_dir=cache, progress=False, **kw)


def human(results: dict) -> dict[str, float]:
    return {out: entry["value"] for out, entry in results["metrics"]["human"].items()}


def test_the_offline_variants_run_by_default_and_the_weighted_ones_on_request():
    assert set(HUMAN_METRICS) <= set(DEFAULT_METRICS) and not set(HUMAN_WEIGHTS_METRICS) & set(DEFAULT_METRICS)


def test_gt_scores_its_own_values_and_noisy_keypoints_jitter_more(tiny_split, method_outputs, noisy, cache):
    gt = evaluate(config(method_outputs["gt"], tiny_split, cache))[0]
    values = human(gt)
    assert values["ba"] == values["ba_gt"] and 0 < values["ba"] <= 1
    assert values["jitter_body"] == values["jitter_body_gt"] and values["jitter_hand"] == values["jitter_hand_gt"]
    assert gt["metrics"]["human"]["ba"]["n_clips"] == 2 and gt["gesture_keypoints"] == "files"
    worse = human(evaluate(config(noisy, tiny_split, cache))[0])
    assert worse["jitter_body"] > values["jitter_body"] and worse["jitter_hand"] > values["jitter_hand"]
    assert worse["jitter_body_gt"] == values["jitter_body_gt"] and worse["ba_gt"] == values["ba_gt"]


def test_shards_merge_to_the_single_run_exactly(tiny_split, noisy, cache, tmp_path):
    cfg = config(noisy, tiny_split, cache)
    whole, whole_states, _ = evaluate(cfg)
    add_intervals(whole, whole_states)  # as writing the run does: the merged run's intervals are the same
    shards = []
    for i in range(2):
        res, states, _ = evaluate(replace(cfg, shard=(i, 2)))
        shards.append(write_partial(cfg, states, res, tmp_path / f"shard{i}"))
    merged, _ = merge_shards(shards[::-1], tmp_path / "merged")
    assert merged["metrics"]["human"] == whole["metrics"]["human"]
    assert all(e["ci95"] is not None for e in whole["metrics"]["human"].values() if e["value"] is not None)


@pytest.mark.slow
def test_hands_and_identity_of_gt_and_a_still_picture(tiny_split, method_outputs, cache):
    metrics = ("hkc_mp", "csim_dlib")
    gt = evaluate(config(method_outputs["gt"], tiny_split, cache, metrics))[0]
    still = evaluate(config(method_outputs["still"], tiny_split, cache, metrics))[0]
    g, s = human(gt), human(still)
    assert g["hkc_mp"] == g["hkc_mp_gt"] > 0.5 and g["csim_dlib"] == g["csim_dlib_gt"] > 0.9
    assert s["hkv_mp"] < 0.1 * g["hkv_mp"]  # the still picture's hands do not move
    assert s["hkc_mp_gt"] == g["hkc_mp_gt"] and s["csim_dlib_gt"] == g["csim_dlib_gt"]
    assert set(gt["extractors"]) == {"holistic", "dlib-resnet"}
    assert gt["metrics"]["human"]["csim_dlib"]["extractor"] == "dlib-resnet"


def test_hkc_runs_on_the_dwpose_extractor_of_the_run(tiny_split, method_outputs, cache):
    """The DWPose variant through the harness, its ONNX models replaced by a pose model of known scores."""
    from eval.extractors.dwpose_hands import DWPoseExtractor
    from eval.harness import Evaluator
    from mmgt import keypoints as K
    from mmgt.pose import PoseExtractor

    class KnownScores(PoseExtractor):
        name = "dwpose"
        files: dict = {}

        def extract(self, frames):
            kp = np.zeros((len(frames), K.NUM_JOINTS, 3), np.float32)
            kp[..., 0] = frames[..., 0].mean(axis=(1, 2))[:, None]  # moves with the picture's red level
            kp[..., 2] = 0.75
            return kp

        def provenance(self):
            return {}

    cfg = config(method_outputs["gt"], tiny_split, cache, metrics=("hkc",))
    ev = Evaluator(cfg)
    ev.extractors._built["dwpose"] = DWPoseExtractor(KnownScores(), {"dwpose-detector": "a", "dwpose-pose": "b"})
    results = evaluate(cfg, ev)[0]
    values = human(results)
    assert values["hkc"] == pytest.approx(0.75) and values["hkc_gt"] == pytest.approx(0.75)
    assert values["hkv"] == values["hkv_gt"] >= 0
    assert results["metrics"]["human"]["hkc"]["extractor"] == "dwpose"
    assert results["extractors"]["dwpose"]["model_files"] == {"dwpose-detector": "a", "dwpose-pose": "b"}
