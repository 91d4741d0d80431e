"""FGD/Div are scored in one fixed space: the committed encoder for the embedded split, deterministic training."""

from __future__ import annotations

import pytest

import eval.gesture_cache as G
from eval.gesture_train import TrainSettings, train_gesture_encoder
from eval.config import EvalConfig
from eval.harness import Evaluator
from mmgt.errors import DataError
from mmgt.weights import sha256_file


def test_committed_encoder_is_hash_pinned_and_small():
    path, trained_on = G.embedded_encoder()
    assert sha256_file(path) == G.EMBEDDED_SHA256 and len(trained_on) == 64
    assert path.stat().st_size < 1_000_000


def test_a_tampered_encoder_is_refused(tmp_path, monkeypatch):
    bad = tmp_path / "gesture_ae-synth.pt"
    data = bytearray(G.EMBEDDED_ENCODER.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    monkeypatch.setattr(G, "EMBEDDED_ENCODER", bad)
    G.embedded_encoder.cache_clear()
    try:
        with pytest.raises(DataError, match="sha256 differs"):
            G.embedded_encoder()
    finally:
        G.embedded_encoder.cache_clear()


def test_default_encoder_only_for_the_split_it_was_trained_on(tiny_split, monkeypatch):
    assert G.default_encoder(tiny_split) is None  # another split: no silent reuse of the synth space
    monkeypatch.setattr(G, "embedded_encoder", lambda: (G.EMBEDDED_ENCODER, G.split_hash(tiny_split)))
    assert G.default_encoder(tiny_split) == G.EMBEDDED_ENCODER
    ev = Evaluator(EvalConfig(pred=tiny_split, gt=tiny_split, metrics=("fgd",), cache_dir=None, progress=False))
    assert ev.extractors.gesture_encoder_path == G.EMBEDDED_ENCODER
    ev = Evaluator(EvalConfig(pred=tiny_split, gt=tiny_split, metrics=("psnr",), cache_dir=None, progress=False))
    assert ev.extractors.gesture_encoder_path is None


def test_training_is_deterministic_to_the_byte(tiny_split, tmp_path):
    settings = TrainSettings(steps=20, seed=3)
    a = train_gesture_encoder(tiny_split, tmp_path / "a.pt", settings=settings)
    b = train_gesture_encoder(tiny_split, tmp_path / "b.pt", settings=settings)
    assert sha256_file(a) == sha256_file(b)
    c = train_gesture_encoder(tiny_split, tmp_path / "c.pt", settings=TrainSettings(steps=20, seed=4))
    assert sha256_file(c) != sha256_file(a)
