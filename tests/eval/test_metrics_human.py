"""The half-body papers' metrics on constructed inputs: jitter, beat alignment, HKC/HKV, CSIM.

Each is checked against a re-statement of its definition (written independently, loop by loop), on
inputs with known answers, and for exact shard merges.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import eval.metrics as metrics
from eval.metrics.beats import beat_alignment, kinematic_beats
from eval.metrics.hands import hands_from_holistic, hands_from_keypoints
from eval.metrics.jitter import SHOULDERS
from mmgt import keypoints as K

T = 60


def still_pose(n: int = T, width: float = 50.0) -> np.ndarray:
    """``(n, 134, 3)`` keypoints at rest, every joint seen, shoulders ``width`` px apart."""
    kp = np.zeros((n, K.NUM_JOINTS, 3))
    kp[..., 0], kp[..., 1], kp[..., 2] = 128.0, 128.0, 1.0
    kp[:, SHOULDERS[0], 0], kp[:, SHOULDERS[1], 0] = 128 - width / 2, 128 + width / 2
    return kp


def merged(name: str, updates: list[tuple], **kw) -> tuple[metrics.Metric, metrics.Metric]:
    """The metric fed ``updates`` at once, and the same fed as two shards then merged."""
    whole, a, b = (metrics.create(name, **kw) for _ in range(3))
    for i, args in enumerate(updates):
        whole.update(*args)
        (a if i % 2 else b).update(*args)
    return whole, b.merge(a)


# ---- jitter -------------------------------------------------------------------------------------

def test_jitter_is_the_mean_acceleration_in_shoulder_widths():
    rng = np.random.default_rng(0)
    gt = still_pose()
    pred = gt.copy()
    pred[:, list(K.HANDS), :2] += rng.normal(0, 2.0, (T, len(K.HANDS), 2))
    pred[10, K.HANDS[0], 2] = 0.0  # one unseen hand point: its three second differences are skipped
    m = metrics.create("jitter")
    m.update("a", pred, gt)
    expected = []  # re-statement: loop over joints and frames
    for j in K.HANDS:
        for t in range(1, T - 1):
            if all(pred[s, j, 2] > K.SCORE_THRESHOLD for s in (t - 1, t, t + 1)):
                a = pred[t + 1, j, :2] - 2 * pred[t, j, :2] + pred[t - 1, j, :2]
                expected.append(math.hypot(*a) / 50.0)
    out = m.compute()
    assert len(expected) == len(K.HANDS) * (T - 2) - 3
    assert out["jitter_hand"] == pytest.approx(sum(expected) / len(expected), rel=1e-12)
    assert out["jitter_body"] == 0.0 and out["jitter_body_gt"] == 0.0 and out["jitter_hand_gt"] == 0.0


def test_jitter_ignores_scale_and_constant_velocity_and_grows_with_noise():
    gt = still_pose()
    moving = gt.copy()
    moving[..., :2] += np.arange(T)[:, None, None] * 1.5  # constant velocity: no acceleration
    m = metrics.create("jitter")
    m.update("a", moving, gt)
    assert m.compute()["jitter_body"] == pytest.approx(0.0, abs=1e-12)
    rng = np.random.default_rng(1)
    noise = rng.normal(0, 1, gt[..., :2].shape)
    values = []
    for sigma in (0.5, 1.0, 2.0):
        for scale in (1.0, 3.0):  # a video 3x the size: the same jitter in shoulder widths
            kp = gt.copy()
            kp[..., :2] = (kp[..., :2] + sigma * noise) * scale
            m = metrics.create("jitter")
            m.update("a", kp, gt)
            values.append(m.compute()["jitter_body"])
    assert values[0] == pytest.approx(values[1]) and values[2] == pytest.approx(values[3])
    assert values[0] < values[2] < values[4]


def test_jitter_without_shoulders_is_counted_and_shards_merge_exactly():
    rng = np.random.default_rng(2)
    updates = []
    for i in range(5):
        kp = still_pose()
        kp[..., :2] += rng.normal(0, 1 + i, kp[..., :2].shape)
        updates.append((f"c{i}", kp, still_pose()))
    blind = still_pose()
    blind[:, SHOULDERS, 2] = 0.0
    updates.append(("blind", blind, still_pose()))
    whole, parts = merged("jitter", updates)
    assert whole.compute() == parts.compute()
    assert whole.diagnostics()["n_no_shoulders_pred"] == 1


# ---- beat alignment -----------------------------------------------------------------------------

def motion_with_pauses(pauses: list[int], n: int = 100) -> np.ndarray:
    """Keypoints whose joint speed is 1 + sin-shaped bumps with a zero at each frame step in ``pauses``."""
    speed = np.full(n - 1, 3.0)
    for p in pauses:
        for k in range(-3, 4):
            if 0 <= p + k < n - 1:
                speed[p + k] = min(speed[p + k], 3.0 * abs(k) / 3)
    kp = still_pose(n)
    kp[1:, list(K.UPPER_BODY + K.HANDS), 0] += np.cumsum(speed)[:, None]
    return kp


def reference_ba(motion: list[float], audio: list[float], sigma: float) -> float:
    """Li et al. 2021: mean over kinematic beats of exp(-min distance² / 2 sigma²)."""
    return sum(math.exp(-min((m - a) ** 2 for a in audio) / (2 * sigma**2)) for m in motion) / len(motion)


def test_kinematic_beats_are_the_speed_minima_between_frames():
    kp = motion_with_pauses([20, 45, 70])
    assert kinematic_beats(kp, K.SCORE_THRESHOLD, smooth=0).tolist() == [20.5, 45.5, 70.5]
    assert kinematic_beats(kp, K.SCORE_THRESHOLD, smooth=2.0).tolist() == [20.5, 45.5, 70.5]


def test_beat_alignment_matches_the_definition_and_falls_with_a_time_shift():
    onsets = np.array([10.0, 21.0, 44.0, 71.0, 90.0])
    motion = [20.5, 45.5, 70.5]
    assert beat_alignment(np.array(motion), onsets, 3.0) == pytest.approx(reference_ba(motion, list(onsets), 3.0), rel=1e-14)
    gt = motion_with_pauses([20, 45, 70])
    shifted = np.roll(gt, 8, axis=0)  # the same motion 8 frames late (0.32 s)
    m = metrics.create("beat_align")
    m.update("a", shifted, gt, onsets)
    out = m.compute()
    assert out["ba_gt"] == pytest.approx(reference_ba(motion, list(onsets), 3.0), rel=1e-12)
    assert out["ba"] < out["ba_gt"]


def test_beat_alignment_without_beats_is_unscored_and_shards_merge_exactly():
    onsets = np.array([5.0, 30.0, 60.0])
    updates = [(f"c{i}", motion_with_pauses([10 + i, 40, 70 - i]), motion_with_pauses([30, 60]), onsets) for i in range(4)]
    updates.append(("still", still_pose(100), motion_with_pauses([30, 60]), onsets))  # constant speed: no beat
    whole, parts = merged("beat_align", updates)
    assert whole.compute() == parts.compute()
    assert whole.diagnostics()["n_unscored_pred"] == 1
    assert math.isnan(whole.column("ba")["still"])


# ---- HKC / HKV ----------------------------------------------------------------------------------

def test_hkc_hkv_match_the_definition_and_unseen_hands_score_zero():
    rng = np.random.default_rng(3)
    kp = still_pose()
    kp[:, list(K.HANDS), :2] += rng.normal(0, 6.0, (T, len(K.HANDS), 2))
    kp[:, list(K.HANDS), 2] = rng.uniform(0.2, 1.0, (T, len(K.HANDS)))
    kp[:20, list(K.RIGHT_HAND), 2] = 0.0  # the right hand unseen for 20 frames
    kp[1:, K.LEFT_HAND[3], 2] = 0.1  # one point seen in 1 frame only: no measured motion, counts 0
    hands = hands_from_keypoints(kp)
    m = metrics.create("hkc", size=256)
    m.update("a", hands, hands)
    out = m.compute()
    scores = [kp[t, j, 2] for t in range(T) for j in K.HANDS]
    assert out["hkc"] == pytest.approx(sum(scores) / len(scores), rel=1e-12) and out["hkc_gt"] == out["hkc"]
    variances = []
    for j in K.HANDS:
        seen = [t for t in range(T) if kp[t, j, 2] > K.SCORE_THRESHOLD]
        xs, ys = [kp[t, j, 0] / 256 for t in seen], [kp[t, j, 1] / 256 for t in seen]
        variances.append(np.var(xs) + np.var(ys) if len(seen) >= 2 else 0.0)
    assert len(variances) == 42 and out["hkv"] == pytest.approx(sum(variances) / 42, rel=1e-10)
    assert m.diagnostics()["n_unseen_points_pred"] == 1


def test_frozen_hands_lower_hkv_and_lost_holistic_hands_lower_hkc_mp():
    rng = np.random.default_rng(4)
    holistic = np.full((T, 75, 3), np.nan)
    holistic[:, 33:, :2] = 128 + rng.normal(0, 8.0, (T, 42, 2))
    holistic[:, 33:, 2] = 1.0
    frozen = holistic.copy()
    frozen[:, 33:, :2] = holistic[:1, 33:, :2]
    lost = holistic.copy()
    lost[::2, 54:] = np.nan  # right hand not tracked in every other frame
    m = metrics.create("hkc_mp")
    m.update("frozen", hands_from_holistic(frozen), hands_from_holistic(holistic))
    m.update("lost", hands_from_holistic(lost), hands_from_holistic(holistic))
    hkv, hkc = m.clip_values()["hkv_mp"], m.clip_values()["hkc_mp"]
    assert hkv["frozen"] == pytest.approx(0.0, abs=1e-20) and m.clip_values()["hkv_mp_gt"]["frozen"] > 1e-4
    assert hkc["frozen"] == 1.0 and hkc["lost"] == pytest.approx(1 - 0.5 * 0.5)
    m.update("gone", hands_from_holistic(np.full((T, 75, 3), np.nan)), hands_from_holistic(holistic))
    assert m.clip_values()["hkv_mp"]["gone"] == 0.0 and m.clip_values()["hkc_mp"]["gone"] == 0.0
    assert m.diagnostics()["n_unseen_points_pred"] == 42 and m.diagnostics()["n_no_hands_pred"] == T  # frozen, lost: 0


def test_hand_metrics_merge_exactly_and_variants_stay_apart():
    rng = np.random.default_rng(5)
    updates = [(f"c{i}", rng.uniform(0, 1, (T, 42, 3)), rng.uniform(0, 1, (T, 42, 3))) for i in range(5)]
    whole, parts = merged("hkc_mp", updates)
    assert whole.compute() == parts.compute()
    assert set(whole.directions) == {"hkc_mp", "hkv_mp", "hkc_mp_gt", "hkv_mp_gt"}
    assert set(metrics.create("hkc").directions) == {"hkc", "hkv", "hkc_gt", "hkv_gt"}
    with pytest.raises(ValueError, match="cannot merge"):
        metrics.create("hkc").merge(whole)


# ---- CSIM ---------------------------------------------------------------------------------------

def test_csim_is_the_pooled_cosine_to_the_reference_and_counts_faceless_frames():
    rng = np.random.default_rng(6)
    ref = rng.normal(size=8)
    pred = ref + rng.normal(0, 0.5, (T, 8))
    pred[:7] = np.nan  # no face in 7 frames
    gt = np.tile(ref, (T, 1))
    m = metrics.create("csim_dlib")
    m.update("a", ref, pred, gt)
    cos = [float(p @ ref / np.linalg.norm(p) / np.linalg.norm(ref)) for p in pred[7:]]
    out = m.compute()
    assert out["csim_dlib"] == pytest.approx(sum(cos) / len(cos), rel=1e-12)
    assert out["csim_dlib_gt"] == pytest.approx(1.0)
    assert m.diagnostics()["n_no_face_pred"] == 7
    m.update("faceless-reference", np.full(8, np.nan), pred, gt)
    assert m.compute() == out and m.diagnostics()["n_no_ref_face"] == 1


def test_dlib_descriptor_is_the_packages_own_and_another_speaker_scores_lower(tiny_split):
    """Our per-frame embeddings equal dlib's descriptor on the same face box (what face_recognition.face_encodings
    computes), and a prediction showing another speaker scores lower CSIM than GT against its own reference.
    (The synthetic speakers' drawn faces are near one another for dlib: ~0.2 apart, below its 0.6 same-person line.)"""
    import dlib

    from eval.extractors.face_identity import DESCRIPTOR, SHAPE5, DlibFaceIdentity, models_dir
    from mmgt.data.layout import Split

    clips = {c.record.speaker: c for c in Split(tiny_split).clips("test")}
    own, other = (clips[s].frames()[::20] for s in sorted(clips)[:2])
    extractor = DlibFaceIdentity()
    emb, emb_other = extractor.embeddings(own), extractor.embeddings(other)
    found, found_other = np.isfinite(emb).all(axis=1), np.isfinite(emb_other).all(axis=1)
    assert found[0] and found.sum() >= 3 and found_other.sum() >= 2
    own, emb, emb_other = own[found], emb[found], emb_other[found_other]
    detector = dlib.get_frontal_face_detector()
    shape5 = dlib.shape_predictor(str(models_dir() / SHAPE5))
    net = dlib.face_recognition_model_v1(str(models_dir() / DESCRIPTOR))
    for frame, row in zip(own, emb):
        box = max(detector(frame, 1), key=lambda r: r.area())
        np.testing.assert_array_equal(row, np.array(net.compute_face_descriptor(frame, shape5(frame, box), 1)))
    m = metrics.create("csim_dlib")
    m.update("other-speaker", emb[0], emb_other, emb)
    out = m.compute()
    assert out["csim_dlib"] < out["csim_dlib_gt"]


def test_arcface_aligns_to_the_template_and_feeds_the_session_its_normalised_crop(tiny_split):
    from eval.extractors.face_identity import ARCFACE_SIZE, ARCFACE_TEMPLATE, ArcFaceIdentity, aligned_crop
    from mmgt.data.layout import Split

    frame = Split(tiny_split).clips("test")[0].frames()[0]
    np.testing.assert_allclose(aligned_crop(frame, ARCFACE_TEMPLATE), frame[:ARCFACE_SIZE, :ARCFACE_SIZE], atol=1e-3)
    moved = aligned_crop(frame, ARCFACE_TEMPLATE + (10.0, 20.0))  # the face 10 px right, 20 px down
    np.testing.assert_allclose(moved, frame[20 : 20 + ARCFACE_SIZE, 10 : 10 + ARCFACE_SIZE], atol=1e-3)

    class Input:
        name = "input.1"

    class Session:  # onnxruntime-shaped: a fixed projection of the input to 512-d
        def __init__(self):
            self.seen = []

        def get_inputs(self):
            return [Input()]

        def run(self, names, feeds):
            x = feeds["input.1"]
            self.seen.append(x)
            return [x.reshape(1, -1)[:, :512] * 2.0]

    session = Session()
    arcface = ArcFaceIdentity(session, "sha", "test")
    emb = arcface.embeddings(frame[None])
    (x,) = session.seen
    assert x.shape == (1, 3, ARCFACE_SIZE, ARCFACE_SIZE) and x.dtype == np.float32 and -1 <= x.min() < x.max() <= 1
    np.testing.assert_allclose(emb[0], x.reshape(-1)[:512] * 2.0)
    assert arcface.provenance()["extractor"] == "arcface" and len(arcface.provenance()["model_files"]) == 1
