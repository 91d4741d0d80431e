"""Sync-C / Sync-D / offset equal syncnet-python's SyncNetInstance.evaluate on the same crops, audio
and (seeded random) network."""

from __future__ import annotations

from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
from scipy.io import wavfile
from syncnet_python.SyncNetInstance import SyncNetInstance, calc_pdist

from eval.extractors.base import UntrainedExtractorWarning
from eval.extractors.syncnet import SAMPLES_PER_FRAME, SyncNetExtractor, n_windows
from eval.metrics import create
from eval.metrics.sync import SyncMetric, offset_distances, sync_scores
from mmgt.errors import WeightsMissingError
from mmgt.weights import WeightsStore


@pytest.fixture(scope="module")
def syncnet(tmp_path_factory) -> SyncNetExtractor:
    with pytest.warns(UntrainedExtractorWarning):
        return SyncNetExtractor.load(WeightsStore(tmp_path_factory.mktemp("w")), allow_untrained=True, seed=0)


@pytest.fixture(scope="module")
def package_form(tmp_path_factory) -> torch.nn.Module:
    """The same weights as ``syncnet``, as syncnet-python runs them (BatchNorms unfolded, contiguous)."""
    with pytest.warns(UntrainedExtractorWarning):
        return SyncNetExtractor.load(WeightsStore(tmp_path_factory.mktemp("w")), allow_untrained=True, seed=0,
                                     inference_form=False).net


def test_missing_weights_stop_without_allow_untrained(tmp_path):
    with pytest.raises(WeightsMissingError, match="syncnet_v2.model.*mmgt weights fetch syncnet-v2"):
        SyncNetExtractor.load(WeightsStore(tmp_path))


def test_offset_distances_equal_calc_pdist():
    rng = torch.Generator().manual_seed(1)
    video, audio = torch.randn(9, 16, generator=rng), torch.randn(9, 16, generator=rng)
    reference = torch.stack(calc_pdist(video, audio, vshift=4))  # (windows, offsets)
    torch.testing.assert_close(offset_distances(video, audio, vshift=4), reference, rtol=0, atol=1e-6)


def test_scores_follow_the_reference_definitions():
    mean_dist = np.array([5.0, 3.0, 1.5, 4.0, 6.0])
    scores = sync_scores(mean_dist, vshift=2)
    assert (scores.offset, scores.min_dist, scores.confidence) == (0, 1.5, 4.0 - 1.5)
    assert sync_scores(mean_dist[::-1].copy(), vshift=2).offset == 0
    assert sync_scores(np.array([1.0, 2, 3, 4, 5]), vshift=2).offset == 2  # audio leads by two frames


def reference_and_ours(net, extractor, frames_bgr, samples, tmp_path, vshift):
    """(reference (offset, conf, dist), our metric outputs): the reference reads JPEG frames and an int16
    wav from tmp_dir; we score the same decoded pixels and samples."""
    for i, frame in enumerate(frames_bgr):
        cv2.imwrite(str(tmp_path / f"{i:06d}.jpg"), frame)
    wavfile.write(tmp_path / "audio.wav", 16000, samples)
    opt = SimpleNamespace(tmp_dir=str(tmp_path), batch_size=20, vshift=vshift)
    reference = SyncNetInstance(net, device="cpu").evaluate(opt)
    crops = np.stack([cv2.imread(str(tmp_path / f"{i:06d}.jpg"))[..., ::-1] for i in range(len(frames_bgr))])
    dists = extractor.distances(crops, samples.astype(np.float32) / 32768, vshift=vshift, batch_size=3)
    assert dists.shape == (n_windows(len(crops), len(samples)), 2 * vshift + 1)
    metric = create("sync", vshift=vshift)
    metric.update("clip", dists)
    return reference, metric.compute()


def test_equals_syncnet_instance_evaluate(syncnet, package_form, tmp_path, capsys):
    rng = np.random.default_rng(0)
    yy, xx = (g[..., None] for g in np.mgrid[:224, :224])
    frames = [(127 + 100 * np.sin(xx / (9 + i) + yy / 17 + rng.random(3) * 6)).astype(np.uint8) for i in range(13)]
    samples = rng.normal(0, 3000, 13 * SAMPLES_PER_FRAME).astype(np.int16)
    (offset, conf, min_dist), ours = reference_and_ours(package_form, syncnet, frames, samples, tmp_path, vshift=4)
    capsys.readouterr()
    assert conf > 1e-3  # not a degenerate (flat) distance profile
    assert ours["av_offset"] == offset
    assert ours["sync_d"] == pytest.approx(min_dist, rel=1e-6)
    assert ours["sync_c"] == pytest.approx(conf, rel=1e-4)


class LoudnessSync(torch.nn.Module):
    """A transparent stand-in for SyncNet: lips = each frame's brightness, audio = MFCC log energy per
    video frame, both standardised; synchronised content gives the smallest distance."""

    @staticmethod
    def _standardise(x: torch.Tensor) -> torch.Tensor:
        return (x - x.mean(1, keepdim=True)) / x.std(1, keepdim=True)

    def forward_lip(self, x: torch.Tensor) -> torch.Tensor:
        return self._standardise(x.mean(dim=(1, 3, 4)))

    def forward_aud(self, x: torch.Tensor) -> torch.Tensor:
        return self._standardise(x[:, 0, 0].reshape(len(x), 5, 4).mean(-1))


def test_finds_a_known_av_offset_exactly_as_the_reference(tmp_path, capsys):
    rng = np.random.default_rng(5)
    n_frames, lag = 40, 3
    level = rng.random(n_frames + lag)
    frames = [np.full((224, 224, 3), 40 + 170 * v, np.uint8) for v in level[lag:]]
    loudness = np.repeat(np.exp(3 * level[:n_frames]), SAMPLES_PER_FRAME)  # the audio runs `lag` frames late
    samples = (rng.normal(0, 1, n_frames * SAMPLES_PER_FRAME) * 300 * loudness).astype(np.int16)
    net = LoudnessSync()
    extractor = SyncNetExtractor(net, "random-init", "test")
    (offset, conf, min_dist), ours = reference_and_ours(net, extractor, frames, samples, tmp_path, vshift=15)
    capsys.readouterr()
    assert offset == -lag and conf > 0.5  # late audio reads as a negative offset
    assert ours["av_offset"] == offset
    assert ours["sync_d"] == pytest.approx(min_dist, rel=1e-5)
    assert ours["sync_c"] == pytest.approx(conf, rel=1e-5)


def test_metric_counts_faceless_clips_and_merges_in_any_order():
    rng = np.random.default_rng(2)
    clips = {f"c{i}": rng.random((6, 31)) for i in range(4)}
    whole = SyncMetric()
    for clip, dists in clips.items():
        whole.update(clip, dists)
    whole.update("faceless", None)
    a, b = SyncMetric(), SyncMetric()
    for clip in ("c3", "c1"):
        a.update(clip, clips[clip])
    for clip in ("c2", "c0"):
        b.update(clip, clips[clip])
    b.update("faceless", None)
    restored = SyncMetric()
    restored.load_state_dict(b.state_dict())
    merged = a.merge(restored).compute()
    assert merged == whole.compute()
    assert whole.diagnostics() == {"n_clips": 4, "n_no_face": 1}
    expected = np.mean([np.median(d.mean(0)) - d.mean(0).min() for d in clips.values()])
    assert merged["sync_c"] == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="scored twice"):
        a.merge(a).compute()


def test_metric_rejects_bad_shapes_and_all_faceless():
    metric = SyncMetric()
    with pytest.raises(ValueError, match=r"\(n >= 1, 31\)"):
        metric.update("x", np.zeros((4, 30)))
    metric.update("x", None)
    with pytest.raises(ValueError, match="no clip had a usable face"):
        metric.compute()
