"""EDGE baseline: stage 1 with one stream, no face term and half-overlap long form (shared code)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from baselines import edge
from mmgt.errors import DataError
from mmgt.stage1.checkpoint import save_model
from mmgt.stage1.config import load_config
from mmgt.stage1.smga import SMGA, DecoderLayer
from mmgt.video_io import write_audio

SMALL = ["diffusion.sample_steps=2", "model.dim=32", "model.ff_dim=64", "model.layers=1"]


def test_edge_presets_are_single_stream_smga():
    for size in ("tiny", "paper"):
        cfg = edge.config(size)
        assert edge.is_edge(cfg)
        smga = load_config(size)
        assert not edge.is_edge(smga)
        # same sizes and recipe as the SMGA preset of that size, except the EDGE switches
        assert (cfg.model.dim, cfg.model.layers, cfg.audio, cfg.diffusion) == (smga.model.dim, smga.model.layers, smga.audio, smga.diffusion)
    model = SMGA(edge.config("tiny", tuple(SMALL)).model)
    assert all(isinstance(layer, DecoderLayer) and len(layer.streams) == 1 for layer in model.layers)
    with pytest.raises(ValueError):
        edge.config("huge")


def save(tmp_path, preset: str):
    cfg = load_config(preset, SMALL)
    torch.manual_seed(0)
    return save_model(tmp_path / f"{preset}.safetensors", cfg, SMGA(cfg.model).state_dict(), step=0)


def test_load_refuses_an_smga_model(tmp_path):
    with pytest.raises(DataError, match="not an EDGE model"):
        edge.load(save(tmp_path, "tiny"))


def test_edge_generates_long_audio_with_overlapping_windows(tmp_path):
    generator = edge.load(save(tmp_path, "edge-tiny"), cache_dir=None)
    wav = write_audio(tmp_path / "c" / "audio.wav", (0.1 * np.random.default_rng(0).standard_normal(int(5.2 * 16000))).astype(np.float32))
    ref = np.concatenate([np.full((134, 2), 32.0), np.ones((134, 1))], -1).astype(np.float32)
    out = generator.generate(wav, ref, (64, 64), seed=0)
    assert out.shape == (130, 134, 3) and np.isfinite(out).all()
