"""Audio features: frame grid, alignment, resampling, cache, local transformers checkpoints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mmgt.errors import CorruptCacheEntryWarning, WeightsMissingError
from mmgt.features.audio import AudioFeatureConfig, AudioFeaturizer
from mmgt.features.cache import FeatureCache
from mmgt.features.librosa_baseline import baseline_features
from mmgt.features.timing import fit_frames, resample_frames
from mmgt.video_io import SAMPLE_RATE, write_audio


def burst_at(seconds: float, total: float) -> np.ndarray:
    wav = np.zeros(int(total * SAMPLE_RATE), np.float32)
    start = int(seconds * SAMPLE_RATE)
    t = np.arange(int(0.15 * SAMPLE_RATE)) / SAMPLE_RATE
    wav[start : start + len(t)] = 0.5 * np.sin(2 * np.pi * 220 * t) * np.exp(-t * 20)
    return wav


@pytest.mark.parametrize("seconds,frames", [(3.2, 80), (1.0, 25), (0.3, 8), (3.2, 90)])
def test_baseline_features_on_the_frame_grid(seconds, frames):
    wav = burst_at(min(0.1, seconds / 2), seconds)
    feat = baseline_features(wav, SAMPLE_RATE, frames)
    assert feat.shape == (frames, 35) and feat.dtype == np.float32 and np.isfinite(feat).all()
    assert set(np.unique(feat[:, 33:])) <= {0.0, 1.0}  # onset-peak and beat one-hots
    assert (feat[:, 0] >= 0).all()  # onset envelope


def test_onset_lands_on_its_video_frame():
    feat = baseline_features(burst_at(1.0, 3.2), SAMPLE_RATE, 80)
    assert int(np.argmax(feat[:, 0])) in (25, 26)  # frame k is centred at k / 25 s
    assert feat[25:27, 33].max() == 1.0


def test_fit_frames_trims_and_pads_with_last_frame():
    feat = np.arange(12, dtype=np.float32).reshape(6, 2)
    assert np.array_equal(fit_frames(feat, 4), feat[:4])
    padded = fit_frames(feat, 8)
    assert np.array_equal(padded[:6], feat) and np.array_equal(padded[6:], feat[[5, 5]])
    with pytest.raises(ValueError):
        fit_frames(feat, 0)


def test_resample_frames_is_linear_interpolation():
    src = torch.arange(160, dtype=torch.float32)[:, None, None] * torch.tensor([1.0, -2.0])[None, None]  # (160, 1, 2)
    out = resample_frames(src, 80)
    positions = (np.arange(80) + 0.5) * 2 - 0.5  # half-pixel centres, 50 Hz -> 25 fps
    expected = np.interp(positions, np.arange(160), np.arange(160))
    assert out.shape == (80, 1, 2)
    assert np.allclose(out[:, 0, 0].numpy(), expected) and np.allclose(out[:, 0, 1].numpy(), -2 * expected)


def test_cache_hits_and_invalidates_on_new_content(tmp_path):
    wav_path = write_audio(tmp_path / "clip_a" / "audio.wav", burst_at(0.5, 1.0))
    cache, calls = FeatureCache(tmp_path / "cache"), []
    compute = lambda: calls.append(1) or np.ones((3, 2), np.float32)  # noqa: E731
    first = cache.get_or_compute("baseline", wav_path, {"n": 3}, compute)
    second = cache.get_or_compute("baseline", wav_path, {"n": 3}, compute)
    assert len(calls) == 1 and np.array_equal(first, second)
    cache.get_or_compute("baseline", wav_path, {"n": 4}, compute)
    write_audio(wav_path, burst_at(0.2, 1.0))
    cache.get_or_compute("baseline", wav_path, {"n": 3}, compute)
    assert len(calls) == 3
    files = sorted((tmp_path / "cache" / "baseline").iterdir())
    assert len(files) == 3 and all(f.name.startswith("clip_a-audio-") for f in files)


@pytest.mark.parametrize("damage", ["truncated", "empty", "flipped"])
def test_an_unreadable_cached_feature_is_a_miss_with_one_warning(tmp_path, damage):
    wav_path = write_audio(tmp_path / "clip_a" / "audio.wav", burst_at(0.5, 1.0))
    cache, calls = FeatureCache(tmp_path / "cache"), []
    compute = lambda: calls.append(1) or np.arange(6, dtype=np.float32).reshape(3, 2)  # noqa: E731
    cache.get_or_compute("baseline", wav_path, {}, compute)
    path = cache.path("baseline", wav_path, {})
    data = bytearray(path.read_bytes())
    if damage == "flipped":  # the header's shape field
        data[data.index(b"(3, 2)") + 1] = ord("9")
    path.write_bytes(b"" if damage == "empty" else bytes(data[: len(data) - 5] if damage == "truncated" else data))
    with pytest.warns(CorruptCacheEntryWarning, match="recomputed"):
        again = cache.get_or_compute("baseline", wav_path, {}, compute)
    assert len(calls) == 2 and np.array_equal(again, compute()) and np.array_equal(np.load(path), again)


def test_featurizer_caches_baseline_features(tmp_path):
    wav_path = write_audio(tmp_path / "c" / "audio.wav", burst_at(0.5, 1.0))
    featurizer = AudioFeaturizer(AudioFeatureConfig("baseline", cache_dir=str(tmp_path / "cache")))
    feat = featurizer(wav_path, 25)
    assert feat.shape == (25, 35)
    assert np.array_equal(feat, np.load(next((tmp_path / "cache" / "baseline").iterdir())))


def save_tiny_checkpoint(folder: Path, kind: str, do_normalize: bool = True) -> None:
    import transformers

    torch.manual_seed(0)
    common = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                  conv_dim=(16,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2)
    if kind == "wavlm":
        model = transformers.WavLMModel(transformers.WavLMConfig(**common, num_buckets=32, max_bucket_distance=80))
    else:
        model = transformers.Wav2Vec2Model(transformers.Wav2Vec2Config(**common))
    model.save_pretrained(folder)
    transformers.Wav2Vec2FeatureExtractor(do_normalize=do_normalize, return_attention_mask=True).save_pretrained(folder)


@pytest.mark.parametrize("kind,shape", [("wavlm", (40, 32 + 35)), ("wav2vec2", (40, 2, 32))])
def test_ssl_features_from_local_checkpoint(tmp_path, kind, shape):
    save_tiny_checkpoint(tmp_path / "ckpt", kind)
    wav_path = write_audio(tmp_path / "c" / "audio.wav", burst_at(0.5, 1.6))
    featurizer = AudioFeaturizer(AudioFeatureConfig(kind, weights=str(tmp_path / "ckpt"), cache_dir=str(tmp_path / "cache")))
    feat = featurizer(wav_path, 40)
    assert feat.shape == shape and feat.dtype == np.float32 and np.isfinite(feat).all()
    assert np.array_equal(featurizer(wav_path, 40), feat)  # served from the cache


def test_missing_weights_give_the_standard_error(tmp_path):
    wav_path = write_audio(tmp_path / "c" / "audio.wav", burst_at(0.5, 1.0))
    featurizer = AudioFeaturizer(AudioFeatureConfig("wavlm", weights=str(tmp_path / "nowhere"), cache_dir=None))
    with pytest.raises(WeightsMissingError, match="wavlm-large") as err:
        featurizer(wav_path, 25)
    assert "nowhere" in str(err.value) and "huggingface.co/microsoft/wavlm-large" in str(err.value)


def test_unknown_kind_is_rejected():
    with pytest.raises(ValueError, match="unknown audio feature kind"):
        AudioFeaturizer(AudioFeatureConfig("mel"))


def speech_like(seconds: float = 1.6) -> np.ndarray:
    """A waveform with a DC offset and a gain far from unit variance: normalising it or not matters."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (0.3 + 0.05 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)


def test_wavlm_layer_normalises_the_waveform_as_the_official_cfg_normalize(tmp_path):
    import torch.nn.functional as F
    import transformers

    from mmgt.features.ssl import WAVLM_LARGE, SSLEncoder

    save_tiny_checkpoint(tmp_path, "wavlm", do_normalize=False)  # a preprocessor file that leaves the wave as is
    wav, n = speech_like(), 40
    ours = SSLEncoder(WAVLM_LARGE, tmp_path)(wav, n)
    model = transformers.WavLMModel.from_pretrained(tmp_path).eval()
    x = torch.from_numpy(wav)[None]
    with torch.no_grad():  # WavLM.py: if cfg.normalize: F.layer_norm(wav, wav.shape); last layer; to the frame grid
        official = resample_frames(model(F.layer_norm(x, x.shape)).last_hidden_state[0], n).numpy()
        processor_only = resample_frames(model(x).last_hidden_state[0], n).numpy()
    np.testing.assert_allclose(ours, official, rtol=0, atol=1e-5)
    assert np.abs(ours - processor_only).max() > 100 * np.abs(ours - official).max() + 1e-3


def test_wav2vec2_interpolates_cnn_features_to_the_frames_before_the_encoder_as_hallo(tmp_path):
    import torch.nn.functional as F
    import transformers

    from mmgt.features.ssl import WAV2VEC2_BASE, SSLEncoder

    save_tiny_checkpoint(tmp_path, "wav2vec2")
    wav, n = speech_like(), 40
    ours = SSLEncoder(WAV2VEC2_BASE, tmp_path)(wav, n)
    model = transformers.Wav2Vec2Model.from_pretrained(tmp_path).eval()
    inputs = transformers.Wav2Vec2FeatureExtractor.from_pretrained(tmp_path)(wav, sampling_rate=SAMPLE_RATE,
                                                                            return_tensors="pt").input_values
    with torch.no_grad():  # Hallo / MMGT Wav2VecModel.forward with seq_len = n
        extract = model.feature_extractor(inputs).transpose(1, 2)
        extract = F.interpolate(extract.transpose(1, 2), size=n, align_corners=True, mode="linear").transpose(1, 2)
        hidden, _ = model.feature_projection(extract)
        encoder, layers = model.encoder, []  # Wav2Vec2Encoder: positional conv, layer norm, then each layer
        hidden = encoder.layer_norm(hidden + encoder.pos_conv_embed(hidden))
        for layer in encoder.layers:
            out = layer(hidden)
            hidden = out[0] if isinstance(out, tuple) else out
            layers.append(hidden)
        hallo = torch.stack(layers, dim=2)[0]
        after = resample_frames(torch.stack(model(inputs, output_hidden_states=True).hidden_states[1:], dim=2)[0], n)
    assert ours.shape == (n, 2, 32)
    np.testing.assert_allclose(ours, hallo.numpy(), rtol=0, atol=1e-5)
    assert np.abs(ours - after.numpy()).max() > 1e-2  # interpolating after the encoder gives other features
