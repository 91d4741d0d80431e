"""Audio of any length: chained windows (SMGA) and half-overlapping windows (EDGE)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mmgt.features.audio import AudioFeatureConfig
from mmgt.stage1.config import load_config
from mmgt.stage1.generate import PoseGenerator
from mmgt.stage1.longform import chained, crossfade, overlapping, smooth_seams
from mmgt.stage1.smga import SMGA
from mmgt.video_io import write_audio

H = 80


def continuing_sampler(calls: list):
    """Like a trained model: frame 0 reproduces the reference pose, then frame j moves by 0.01 * audio[j]."""

    def sample(audio, ref, after_step):
        velocity = 0.01 * audio[..., :1].clone()
        velocity[:, 0] = 0.0
        window = ref[:, None, :] + velocity.cumsum(dim=1)
        calls.append((audio.clone(), ref.clone(), window))
        return window

    return sample


@pytest.mark.parametrize("length", [1, 37, 80, 81, 200, 333])
def test_chained_handles_any_length_and_conditions_on_the_last_frame(length):
    audio = torch.ones(length, 3)
    ref = torch.zeros(5)
    calls = []
    out = chained(continuing_sampler(calls), audio, ref, H, seam_frames=4)
    assert out.shape == (length, 5)
    assert len(calls) == 1 + -(-max(length - H, 0) // (H - 1))  # windows overlap by one frame
    assert torch.equal(calls[0][1][0], ref)
    for (_, _, prev_window), (_, ref_i, _) in zip(calls, calls[1:]):
        assert torch.equal(ref_i[0], prev_window[0, H - 1])  # the previous window's last frame
    # continuous: every step (seams included) equals the drift, none is held
    if length > 1:
        assert torch.allclose(out.diff(dim=0), torch.full((length - 1, 5), 0.01), atol=1e-5)


@pytest.mark.parametrize("seam_frames", [0, 4])
def test_chained_seams_hold_or_repeat_no_frame(seam_frames):
    """Three windows; the sampler's frame 0 equals its reference (as trained), velocity from the audio."""
    length = 200  # 80 + 79 + 41 frames
    audio = torch.rand(length, 2, generator=torch.Generator().manual_seed(0)) + 0.5
    ref = torch.randn(4)
    calls = []
    out = chained(continuing_sampler(calls), audio, ref, H, seam_frames)
    assert len(calls) == 3 and out.shape == (length, 4)
    steps = out.diff(dim=0)
    assert (steps.abs() > 1e-4).all()  # no two identical consecutive frames, seams included
    if seam_frames == 0:  # each window starts at its reference's audio frame: the one continuous motion
        expected = ref + torch.cat([torch.zeros(1), 0.01 * audio[1:, 0]]).cumsum(0)[:, None]
        assert torch.allclose(out, expected, atol=1e-5)


def test_chained_pads_short_audio_with_its_last_frame():
    calls = []
    audio = torch.arange(30, dtype=torch.float32)[:, None].repeat(1, 2)
    chained(continuing_sampler(calls), audio, torch.zeros(4), H, 4)
    seen = calls[0][0][0]
    assert seen.shape == (H, 2) and torch.equal(seen[:30], audio) and (seen[30:] == 29).all()


def test_smooth_seams_removes_jumps_locally():
    x = torch.cat([torch.arange(10.0), torch.arange(10.0) + 30]).repeat(2, 1).T  # seam at 10, jump 21
    out = smooth_seams(x, [10], k=4)
    steps = out.diff(dim=0)[:, 0]
    assert torch.allclose(steps[9], torch.tensor(1.0))  # seam step = local velocity
    assert steps.abs().max() < 4.0  # the jump is spread, not moved
    assert torch.equal(out[:6], x[:6]) and torch.equal(out[14:], x[14:])  # untouched beyond k


def test_crossfade_of_agreeing_windows_is_the_sequence():
    seq = torch.randn(200, 3)
    windows = torch.stack([seq[i * 40 : i * 40 + 80] for i in range(4)])
    assert torch.allclose(crossfade(windows, 40), seq, atol=1e-6)


@pytest.mark.parametrize("length", [1, 50, 80, 130, 201])
def test_overlapping_shares_halves_and_handles_any_length(length):
    seen = {}

    def sample(audio, ref, after_step):
        x = torch.randn(audio.shape[0], H, 4)
        x = after_step(x)
        seen["n"], seen["x"], seen["ref"] = audio.shape[0], x, ref
        return x

    out = overlapping(sample, torch.zeros(length, 2), torch.ones(4), H)
    assert out.shape == (length, 4)
    x = seen["x"]
    assert torch.equal(x[1:, :40], x[:-1, 40:])  # after a step, each first half is the previous second half
    assert (seen["ref"] == 1).all() and seen["n"] == max(1, -(-max(length - H, 0) // 40) + 1)


def test_overlapping_places_every_window_at_its_audio_frames():
    """A sampler that outputs its audio (the global frame index): the joined sequence repeats or skips none."""
    length = 130  # 3 windows
    out = overlapping(lambda audio, ref, after_step: audio.expand(-1, -1, 4), torch.arange(length, dtype=torch.float32)[:, None],
                      torch.zeros(4), H)
    assert torch.allclose(out, torch.arange(length, dtype=torch.float32)[:, None].expand(-1, 4), atol=1e-5)


@pytest.fixture(scope="module")
def tiny_generator():
    cfg = load_config("tiny", ["diffusion.sample_steps=2", "model.dim=32", "model.ff_dim=64", "model.layers=1"])
    torch.manual_seed(0)
    return PoseGenerator(cfg, SMGA(cfg.model), AudioFeatureConfig("baseline", cache_dir=None))


@pytest.mark.parametrize("seconds", [0.3, 3.2, 5.0])
def test_generator_any_audio_length_in_pixels(tmp_path, tiny_generator, seconds):
    rng = np.random.default_rng(0)
    wav = write_audio(tmp_path / "c" / "audio.wav", (0.1 * rng.standard_normal(int(seconds * 16000))).astype(np.float32))
    ref = np.concatenate([rng.uniform(0, 64, (134, 2)), np.ones((134, 1))], -1).astype(np.float32)
    out = tiny_generator.generate(wav, ref, (64, 48), seed=1)
    assert out.shape == (round(seconds * 25), 134, 3) and np.isfinite(out).all()
    assert (out[..., 2] >= 0).all() and (out[..., 2] <= 1).all()
    assert np.array_equal(out, tiny_generator.generate(wav, ref, (64, 48), seed=1))  # seeded
