"""Landmark metrics on constructed landmarks: the maths, detection counts and exact shard merges."""

from __future__ import annotations

import numpy as np
import pytest

import eval.metrics as metrics
from eval.extractors import extractor_class
from eval.extractors.mediapipe_landmarks import HOLISTIC_POINTS, MESH_POINTS, model_root
from eval.metrics.landmarks import EYE_CORNERS, INNER_LIP_PAIRS, MOUTH, SHOULDERS, UPPER_BODY
from mmgt.lip_audio import audio_envelope
from mmgt.weights import sha256_file

T = 40


def face(rng: np.random.Generator, n: int = T, iod: float = 40.0) -> np.ndarray:
    """Random face-mesh points with the outer eye corners ``iod`` pixels apart."""
    mesh = rng.uniform(80, 160, (n, MESH_POINTS, 2)).astype(np.float32)
    mesh[:, EYE_CORNERS[0]] = (100, 100)
    mesh[:, EYE_CORNERS[1]] = (100 + iod, 100)
    return mesh


def with_opening(mesh: np.ndarray, opening_px: np.ndarray) -> np.ndarray:
    """``mesh`` whose three inner-lip pairs are ``opening_px`` apart vertically."""
    mesh = mesh.copy()
    for upper, lower in INNER_LIP_PAIRS:
        mesh[:, upper, 1] = 150
        mesh[:, lower, 1] = 150 + opening_px
    return mesh


def body(rng: np.random.Generator, n: int = T, width: float = 50.0) -> np.ndarray:
    """Random holistic points (visibility 1) with the shoulders ``width`` pixels apart."""
    points = np.concatenate([rng.uniform(40, 200, (n, HOLISTIC_POINTS, 2)), np.ones((n, HOLISTIC_POINTS, 1))], -1)
    points[:, SHOULDERS[0], :2] = (100, 120)
    points[:, SHOULDERS[1], :2] = (100 + width, 120)
    return points.astype(np.float32)


def test_registered_with_their_outputs():
    assert metrics.create("mouth_lmd").directions == {"mouth_lmd": "lower"}
    assert metrics.create("lip_audio").directions == {"lip_audio_corr": "higher", "lip_audio_corr_gt": "none"}
    assert metrics.create("pose_error").directions == {"pose_err": "lower", "pck": "higher"}


def mouth_moved(mesh: np.ndarray, offset: tuple[float, float]) -> np.ndarray:
    """``mesh`` with its lip points moved by ``offset`` pixels against the rest of the face."""
    mesh = mesh.copy()
    mesh[:, list(MOUTH)] += np.float32(offset)
    return mesh


def test_mouth_lmd_is_the_mouth_offset_in_inter_ocular_distances_and_counts_missed_faces():
    rng = np.random.default_rng(0)
    gt = face(rng)
    pred = mouth_moved(gt, (3, 4))  # every lip point 5 px off against the eyes; IOD 40 px
    pred[:5] = np.nan  # no face found in the prediction's first 5 frames
    gt[-2:, :, 0] = np.nan  # nor in GT's last 2
    metric = metrics.create("mouth_lmd")
    metric.update("a", pred, gt)
    metric.update("b", gt, gt)
    assert metric.clip_values()["mouth_lmd"] == {"a": pytest.approx(5 / 40, rel=1e-6), "b": 0.0}
    # pooled over scored frames: a's T-7 frames at 5/40, b's T-2 at 0
    assert metric.compute()["mouth_lmd"] == pytest.approx(5 / 40 * (T - 7) / (2 * T - 9), rel=1e-6)
    assert metric.diagnostics() == {"n_clips": 2, "n_frames": 2 * T, "n_scored": 2 * (T - 2) - 5,
                                    "n_no_face_pred": 5 + 2, "n_no_face_gt": 2 + 2}


def test_landmark_errors_pool_frames_so_a_clip_with_few_detections_weighs_little():
    """A face found (wrongly) in 2 frames of a clip must not count as much as a clip scored in all of them."""
    rng = np.random.default_rng(7)
    gt = face(rng)
    spurious = np.full_like(gt, np.nan)
    spurious[:2] = mouth_moved(gt, (0, 200))[:2]  # lips 5 IODs off, in 2 frames only
    lmd = metrics.create("mouth_lmd")
    lmd.update("good", mouth_moved(gt, (4, 0)), gt)  # 0.1 IOD off in all T frames
    lmd.update("spurious", spurious, gt)
    assert lmd.compute()["mouth_lmd"] == pytest.approx((0.1 * T + 5 * 2) / (T + 2), rel=1e-6)
    assert lmd.mean("mouth_lmd") == pytest.approx((0.1 + 5) / 2, rel=1e-6)  # what a mean over clips would say
    target = body(rng)
    few = np.full_like(target, np.nan)
    few[:1] = target[:1] + np.float32([50, 0, 0])  # 1 shoulder width off, in 1 frame
    pose = metrics.create("pose_error")
    pose.update("good", target, target)
    pose.update("few", few, target)
    counted = pose.column("n_points")["good"]
    assert pose.compute()["pose_err"] == pytest.approx((counted / T) / (counted + counted / T), rel=1e-6)


def test_mouth_lmd_ignores_points_outside_the_mouth():
    rng = np.random.default_rng(1)
    gt = face(rng)
    pred = gt.copy()
    others = [i for i in range(MESH_POINTS) if i not in MOUTH and i not in EYE_CORNERS]
    pred[:, others] += 30
    metric = metrics.create("mouth_lmd")
    metric.update("a", pred, gt)
    assert metric.compute()["mouth_lmd"] == 0.0


def test_lip_audio_correlation_follows_the_envelope_and_a_constant_mouth_scores_zero():
    rng = np.random.default_rng(2)
    wav = rng.normal(size=T * 640).astype(np.float32) * np.repeat(rng.uniform(0, 1, T), 640)
    env = audio_envelope(wav, T)
    base = face(rng)
    speaking = with_opening(base, 20 * env / env.max())  # opening up to half the IOD
    jitter = with_opening(base, 4 + rng.normal(scale=0.02, size=T))  # std 0.0005 IOD: a still mouth's detector noise
    metric = metrics.create("lip_audio", motion_floor=0.005)
    metric.update("speaks", speaking, speaking, env)
    metric.update("still", jitter, speaking, env)
    metric.update("reversed", with_opening(base, 20 - 20 * env / env.max()), speaking, env)
    values = metric.clip_values()
    assert values["lip_audio_corr"]["speaks"] == pytest.approx(1.0)
    assert values["lip_audio_corr"]["still"] == 0.0
    assert values["lip_audio_corr"]["reversed"] == pytest.approx(-1.0)
    assert list(values["lip_audio_corr_gt"].values()) == pytest.approx([1.0, 1.0, 1.0])
    assert metric.compute() == {"lip_audio_corr": pytest.approx(0.0, abs=1e-12), "lip_audio_corr_gt": pytest.approx(1.0)}
    assert metric.diagnostics()["n_constant_pred"] == 1 and metric.diagnostics()["n_constant_gt"] == 0


def test_lip_audio_uses_frames_with_a_face_and_a_mouth_never_found_counts_as_constant():
    rng = np.random.default_rng(3)
    env = rng.uniform(0, 1, T)
    speaking = with_opening(face(rng), 10 * env)
    gappy = speaking.copy()
    gappy[::3] = np.nan
    metric = metrics.create("lip_audio")
    metric.update("gappy", gappy, speaking, env)
    metric.update("none", np.full_like(speaking, np.nan), speaking, env)
    assert metric.clip_values()["lip_audio_corr"] == {"gappy": pytest.approx(1.0), "none": 0.0}
    assert metric.diagnostics()["n_no_face_pred"] == len(range(0, T, 3)) + T
    with pytest.raises(ValueError, match="envelope"):
        metric.update("short", speaking, speaking, env[:-1])


def test_pose_error_in_shoulder_widths_and_pck_with_missed_points():
    rng = np.random.default_rng(4)
    gt = body(rng)
    near = gt.copy()
    near[..., 0] += 0.05 * 50  # every point 0.05 shoulder widths off (the shoulders too: the width is GT's)
    far = gt.copy()
    far[..., 1] += 0.2 * 50
    far[:, 54:75] = np.nan  # the right hand never found
    gt_hidden = gt.copy()
    gt_hidden[:, UPPER_BODY[-1], 2] = 0.1  # GT's right wrist below the visibility threshold: not counted
    metric = metrics.create("pose_error", pck=0.1, visibility=0.5)
    metric.update("near", near, gt_hidden)
    metric.update("far", far, gt)
    values = metric.clip_values()
    counted = len(UPPER_BODY) + 42
    assert values["pose_err"] == {"far": pytest.approx(0.2, rel=1e-5), "near": pytest.approx(0.05, rel=1e-5)}
    assert values["pck"] == {"far": 0.0, "near": 1.0}
    diag = metric.diagnostics()
    assert diag["n_points"] == T * (2 * counted - 1) and diag["n_missed"] == T * 21
    assert diag["n_no_body_pred"] == 0


def test_pose_error_counts_frames_without_a_body():
    rng = np.random.default_rng(5)
    gt = body(rng)
    pred = gt.copy()
    pred[:4, :33] = np.nan
    gt[-3:, :33] = np.nan
    metric = metrics.create("pose_error")
    metric.update("a", pred, gt)
    diag = metric.diagnostics()
    assert (diag["n_no_body_pred"], diag["n_no_body_gt"], diag["n_missed"]) == (4, 3, 4 * len(UPPER_BODY))
    assert metric.compute()["pose_err"] == 0.0
    assert metric.compute()["pck"] == pytest.approx(1 - 4 * len(UPPER_BODY) / diag["n_points"])


@pytest.mark.parametrize("name", ["mouth_lmd", "lip_audio", "pose_error"])
def test_shards_saved_and_merged_equal_one_run_exactly(name, tmp_path):
    rng = np.random.default_rng(6)
    clips = []
    for k in range(7):
        if name == "pose_error":
            gt = body(rng)
            pred = gt + rng.normal(scale=3, size=gt.shape).astype(np.float32)
            args = (pred, gt)
        else:
            env = rng.uniform(0, 1, T)
            gt = with_opening(face(rng), 10 * env + rng.normal(size=T))
            pred = gt + rng.normal(scale=2, size=gt.shape).astype(np.float32)
            args = (pred, gt, env) if name == "lip_audio" else (pred, gt)
        clips.append((f"clip{k}", args))
    whole = metrics.create(name)
    for cid, args in clips:
        whole.update(cid, *args)
    merged = metrics.create(name)
    for part in (clips[5:], clips[:2], clips[2:5]):  # another order, through saved states
        shard = metrics.create(name)
        for cid, args in part[::-1]:
            shard.update(cid, *args)
        np.savez(tmp_path / "s.npz", **shard.state_dict())
        with np.load(tmp_path / "s.npz") as saved:
            loaded = metrics.create(name)
            loaded.load_state_dict({k: saved[k] for k in saved.files})
        merged.merge(loaded)
    assert merged.compute() == whole.compute()
    assert merged.diagnostics() == whole.diagnostics()
    assert all(v.dtype == np.float64 for k, v in whole.state_dict().items() if k == "row")
    with pytest.raises(ValueError, match="scored twice"):
        merged.merge(whole).compute()


def test_detector_provenance_hashes_the_shipped_model_files():
    for name in ("facemesh", "holistic"):
        extractor = extractor_class(name).load()
        prov = extractor.provenance()
        assert prov["untrained"] is False and len(prov["weights"]) == 64
        assert any(f.endswith(".tflite") for f in prov["model_files"])
        for path, digest in prov["model_files"].items():
            assert sha256_file(model_root() / path) == digest


def test_mouth_points_are_mediapipes_lips():
    from mediapipe.python.solutions.face_mesh_connections import FACEMESH_LIPS

    assert MOUTH == tuple(sorted({i for edge in FACEMESH_LIPS for i in edge}))
