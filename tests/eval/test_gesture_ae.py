"""Gesture autoencoder of FGD/Div: normalisation, training, determinism, checkpoints, extractor."""

import numpy as np
import pytest
import torch

from eval.extractors.base import RANDOM_INIT, UntrainedExtractorWarning
from eval.extractors.gesture_ae import (
    GestureAEConfig, GestureEncoderMissingError, GestureExtractor, build, normalise, read_checkpoint, save_checkpoint,
    to_input, window_starts,
)
from eval.gesture_train import KeypointSequence, TrainSettings, data_hash, load_gesture_encoder, train_gesture_encoder
from mmgt import keypoints as K
from mmgt.errors import DataError
from mmgt.weights import sha256_file

SIZE = (128, 128)
TINY = GestureAEConfig(window=16, channels=(16, 24, 24), latent_dim=8)
QUICK = TrainSettings(steps=60, batch_size=8, lr=3e-3, seed=0)


def gesturing(n_clips: int, n_frames: int = 24, seed: int = 0) -> np.ndarray:
    """Pixel keypoints of a figure whose joints oscillate with per-clip frequencies and amplitudes."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(30, 98, (K.NUM_JOINTS, 2))
    base[[1, 2, 5]] = [(64, 60), (44, 62), (84, 62)]  # neck, shoulders
    t = np.arange(n_frames)[:, None, None] / 25
    clips = []
    for _ in range(n_clips):
        freq, amp = rng.uniform(0.5, 3, (1, K.NUM_JOINTS, 2)), rng.uniform(0, 8, (1, K.NUM_JOINTS, 2))
        xy = base + amp * np.sin(2 * np.pi * freq * t + rng.uniform(0, 6, (1, K.NUM_JOINTS, 2)))
        clips.append(np.concatenate([xy, np.full((n_frames, K.NUM_JOINTS, 1), 0.9)], -1))
    return np.stack(clips).astype(np.float32)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    clips = gesturing(12)
    path = train_gesture_encoder(list(clips), tmp_path_factory.mktemp("gae") / "ae.pt", size=SIZE,
                                 settings=QUICK, config=TINY)
    return clips, path


def test_normalisation_removes_placement_and_scale_and_zeroes_invalid_joints():
    kp = gesturing(2)
    moved = kp.copy()
    moved[..., :2] = kp[..., :2] * 1.7 + (13.0, -5.0)
    cfg = GestureAEConfig()
    np.testing.assert_allclose(normalise(moved, SIZE, cfg), normalise(kp, SIZE, cfg), atol=1e-5)
    kp[0, 3, K.LEFT_HAND[4], 2] = 0.1
    out = normalise(kp, SIZE, cfg)
    assert out.shape == (2, 24, len(cfg.joints), 2) and len(cfg.joints) == 14 + 42 + 68
    assert (out[0, 3, cfg.joints.index(K.LEFT_HAND[4])] == 0).all()
    neck = out[:, :, cfg.joints.index(1)]
    np.testing.assert_allclose(neck.mean(1), 0, atol=1e-6)  # centred on the mean neck
    shoulders = out[:, :, cfg.joints.index(2)] - out[:, :, cfg.joints.index(5)]
    np.testing.assert_allclose(np.median(np.linalg.norm(shoulders, axis=-1), axis=1), 1, atol=1e-6)


def test_normalisation_falls_back_without_neck_or_shoulders():
    kp = gesturing(1)
    kp[..., [1, 2, 5], 2] = 0.0
    out = normalise(kp, SIZE, GestureAEConfig())
    joint = GestureAEConfig().joints.index(0)
    expected = (kp[0, :, 0, :2] - 64) / (128 / 3)
    np.testing.assert_allclose(out[0, :, joint], expected, rtol=1e-5)
    assert np.isfinite(normalise(np.zeros((1, 4, K.NUM_JOINTS, 3)), SIZE, GestureAEConfig())).all()


def test_windows_cover_the_clip():
    assert window_starts(80, 80).tolist() == [0]
    assert window_starts(100, 80).tolist() == [0, 20]
    assert window_starts(170, 80).tolist() == [0, 45, 90]
    with pytest.raises(ValueError, match="shorter"):
        window_starts(79, 80)
    with pytest.raises(ValueError, match="divisible"):
        GestureAEConfig(window=34)


def test_reconstruction_loss_falls_during_training(trained):
    _, path = trained
    _, training, _ = read_checkpoint(path)
    curve = training["loss_curve"]
    assert len(curve) == 10 and curve[-1] < 0.5 * curve[0]


def test_checkpoint_records_its_config_data_hash_and_file_hash(trained):
    clips, path = trained
    model, digest = load_gesture_encoder(path)
    assert digest == sha256_file(path) and not model.training
    assert model.config == TINY
    _, training, _ = read_checkpoint(path)
    assert training["data_hash"] == data_hash([KeypointSequence(c, SIZE) for c in clips])
    assert training["data_hash"] != data_hash([KeypointSequence(c, SIZE) for c in clips[::-1]])
    assert training["seed"] == 0 and training["n_sequences"] == 12 and training["n_windows"] == 12 * (24 - 16 + 1)
    extractor = GestureExtractor.from_checkpoint(path)
    assert extractor.weights == digest and not extractor.untrained and extractor.dim == 8
    assert "window=16" in extractor.provenance()["preprocessing"]


def test_training_is_deterministic_under_a_seed(trained, tmp_path):
    clips, path = trained
    again = train_gesture_encoder(list(clips), tmp_path / "again.pt", size=SIZE, settings=QUICK, config=TINY)
    other = train_gesture_encoder(list(clips), tmp_path / "other.pt", size=SIZE,
                                  settings=TrainSettings(steps=60, batch_size=8, lr=3e-3, seed=1), config=TINY)
    a, b, c = (load_gesture_encoder(p)[0].state_dict() for p in (path, again, other))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_encoding_is_deterministic_and_batch_size_and_order_invariant(trained):
    clips, path = trained
    extractor = GestureExtractor.from_checkpoint(path)
    test = gesturing(5, n_frames=16, seed=3)
    together = extractor.features(test, SIZE)
    assert together.shape == (5, 8) and together.dtype == np.float32
    one_by_one = np.concatenate([extractor.features(test[i:i + 1], SIZE) for i in range(5)])
    np.testing.assert_array_equal(together, one_by_one)
    order = [3, 0, 4, 1, 2]
    np.testing.assert_array_equal(extractor.features(test[order], SIZE), together[order])
    np.testing.assert_array_equal(extractor.features(test, SIZE), together)


def test_checkpoint_round_trip_gives_identical_latents(trained, tmp_path):
    clips, path = trained
    model, training, _ = read_checkpoint(path)
    save_checkpoint(tmp_path / "copy.pt", model, training)
    first = GestureExtractor.from_checkpoint(path).features(clips, SIZE)
    second = GestureExtractor.from_checkpoint(tmp_path / "copy.pt").features(clips, SIZE)
    np.testing.assert_array_equal(first, second)


def test_long_clip_latent_is_the_mean_of_its_covering_windows(trained):
    _, path = trained
    extractor = GestureExtractor.from_checkpoint(path)
    clip = gesturing(1, n_frames=40, seed=4)
    x = to_input(clip, SIZE, TINY)
    with torch.no_grad():
        windows = [extractor.net.encode(x[:, :, s:s + 16]) for s in (0, 12, 24)]
    np.testing.assert_allclose(extractor.features(clip, SIZE)[0], torch.cat(windows).mean(0).numpy(), atol=1e-6)


def test_missing_or_bad_checkpoints_give_one_line_errors(tmp_path):
    with pytest.raises(DataError, match="not found"):
        build(tmp_path / "absent.pt")
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(DataError, match="not a readable"):
        build(tmp_path / "bad.pt")
    torch.save({"format": "something-else"}, tmp_path / "other.pt")
    with pytest.raises(DataError, match="not a mmgt-gesture-ae"):
        build(tmp_path / "other.pt")
    with pytest.raises(GestureEncoderMissingError, match="train-gesture-encoder"):
        build(weights_dir=tmp_path)


def test_untrained_encoder_only_when_allowed_and_marked(tmp_path):
    with pytest.warns(UntrainedExtractorWarning):
        a = build(weights_dir=tmp_path, allow_untrained=True, seed=5)
    with pytest.warns(UntrainedExtractorWarning):
        b = build(weights_dir=tmp_path, allow_untrained=True, seed=5)
    assert a.untrained and a.weights == RANDOM_INIT and a.dim == GestureAEConfig().latent_dim
    clip = gesturing(2, n_frames=80)
    np.testing.assert_array_equal(a.features(clip, SIZE), b.features(clip, SIZE))


def test_trainer_reads_a_split_root(tmp_path):
    from mmgt.data.layout import ClipRecord, write_manifest

    clips = gesturing(3)
    records = [ClipRecord(f"c{i}", "train", "spk", f"s{i}", 0.0, 1.0, 0, 24, 25, *SIZE) for i in range(3)]
    for r, kp in zip(records, clips):
        (tmp_path / "train" / r.clip_id).mkdir(parents=True)
        np.save(tmp_path / "train" / r.clip_id / "keypoints.npy", kp)
    write_manifest(tmp_path, records)
    path = train_gesture_encoder(tmp_path, tmp_path / "ae.pt", settings=TrainSettings(steps=10, batch_size=4),
                                 config=TINY)
    _, training, _ = read_checkpoint(path)
    assert training["data"] == str(tmp_path) and training["n_sequences"] == 3
    assert training["data_hash"] == data_hash([KeypointSequence(c, SIZE) for c in clips])
    with pytest.raises(ValueError, match="frame size"):
        train_gesture_encoder(list(clips), tmp_path / "x.pt")
