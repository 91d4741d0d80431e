"""FVD / KVD protocols: each equals an independent re-statement of its reference tool's sampling,
preprocessing, network call and Frechet maths, on seeded networks saved in the real file layouts; the
TorchScript I3D loads from the weights cache only; switching the protocol moves only FVD/KVD."""

from __future__ import annotations

import dataclasses
import hashlib
import math

import numpy as np
import pytest
import scipy.linalg
import torch
import torch.nn.functional as F
from torch import Tensor, nn

import mmgt.weights as W
from eval import fvd_protocols as P
from eval.extractor_set import ExtractorSet
from eval.extractors.base import seeded
from eval.extractors.i3d import I3DExtractor
from eval.extractors.i3d_torchscript import I3DTorchScriptExtractor
from eval.metrics.mmd import polynomial_mmd
from eval.protocol import FVD_PROTOCOLS, Protocol
from mmgt.errors import DataError, WeightsMissingError

pytestmark = [pytest.mark.filterwarnings("ignore:`torch.jit.*` is deprecated:FutureWarning"),
              pytest.mark.filterwarnings("ignore::eval.metrics.frechet.FewSamplesWarning")]


class ScriptedI3D(nn.Module):
    """A small seeded network in ``i3d_torchscript.pt``'s call form: ``forward(x, rescale, resize,
    return_features) -> (N, 400)`` (the real file's network is the full I3D; its inputs are what is tested)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv3d(3, 6, 3)
        self.hidden = nn.Linear(6 * 4 * 4, 512)
        self.out = nn.Linear(512, 400)

    def forward(self, x: Tensor, rescale: bool = False, resize: bool = False, return_features: bool = False) -> Tensor:
        x = x.float()
        if rescale:
            x = x / 127.5 - 1
        if resize:
            x = F.interpolate(x, size=(x.shape[2], 36, 36), mode="trilinear", align_corners=False)  # the file: 224
        h = F.adaptive_avg_pool3d(x, (x.shape[2], 12, 12))
        h = F.adaptive_avg_pool3d(torch.relu(self.conv(h)), (1, 4, 4)).flatten(1)
        return self.out(torch.tanh(self.hidden(h)))


@pytest.fixture(scope="module")
def scripted(tmp_path_factory) -> tuple[torch.jit.ScriptModule, W.WeightsStore]:
    """The seeded network scripted and saved as ``i3d_torchscript.pt``, and a weights cache that trusts it."""
    folder = tmp_path_factory.mktemp("weights")
    with seeded(3):
        module = torch.jit.script(ScriptedI3D().eval())
    path = folder / W.MANIFEST["i3d-torchscript"].filename
    torch.jit.save(module, str(path))
    entry = dataclasses.replace(W.MANIFEST["i3d-torchscript"], digest=W.Digest("sha256", W.sha256_file(path)))
    return torch.jit.load(str(path)), W.WeightsStore(folder, {"i3d-torchscript": entry}, lockfile=folder / "none.json")


def videos(n: int, frames: int, h: int, w: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, size=(frames, h, w, 3), dtype=np.uint8) for _ in range(n)]


def sha(video: np.ndarray) -> str:
    return hashlib.sha256(video.tobytes()).hexdigest()


def ours(networks: ExtractorSet, protocol: Protocol, pred: list[np.ndarray], gt: list[np.ndarray]) -> dict[str, float]:
    """FVD and KVD through the harness's calls: per-video samples, features, the protocol's metrics."""
    fvd, kvd = networks.metric("fvd", protocol), networks.metric("kvd", protocol)
    for p, g in zip(pred, gt):
        features = {"pred": networks.i3d(p, protocol, "pred", sha(p)), "gt": networks.i3d(g, protocol, "gt", sha(g))}
        fvd.update(**features)
        kvd.update(**features)
    return fvd.compute() | kvd.compute()


def sqrtm_frechet(mu1, sigma1, mu2, sigma2) -> float:
    """StyleGAN-V's (and common_metrics') Frechet maths: scipy sqrtm of the product."""
    s = scipy.linalg.sqrtm(np.dot(sigma1, sigma2))
    return float(np.real(np.square(mu1 - mu2).sum() + np.trace(sigma1 + sigma2 - s * 2)))


# ----- re-statements of the tools -------------------------------------------------------------------
def stylegan_v_features(detector, videos_: list[np.ndarray], offsets: list[int]) -> np.ndarray:
    """StyleGAN-V: ``frames_idx = np.arange(0, 16) + offset`` per video (TCHW uint8), a batch permuted to
    ``[b, c, t, h, w]``, ``detector(images, rescale=True, resize=True, return_features=True)``."""
    batch = np.stack([v[np.arange(0, 16) + o].transpose(0, 3, 1, 2) for v, o in zip(videos_, offsets)])
    images = torch.from_numpy(batch).permute(0, 2, 1, 3, 4).contiguous()
    with torch.no_grad():
        return detector(images, rescale=True, resize=True, return_features=True).numpy().astype(np.float64)


def feature_stats_mean_cov(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """StyleGAN-V ``FeatureStats.get_mean_cov``: raw moments divided by the count."""
    mean = x.sum(0) / len(x)
    return mean, x.T @ x / len(x) - np.outer(mean, mean)


def common_metrics_features(detector, videos_: list[np.ndarray]) -> np.ndarray:
    """common_metrics ``calculate_fvd(method="styleganv", only_final=True)``: [0, 1] BTCHW, ``trans``,
    ``preprocess_single`` per video, batches of 10, ``detector(x=..., rescale=False, resize=False, ...)``."""
    batch = torch.from_numpy(np.stack(videos_)).float().div(255).permute(0, 1, 4, 2, 3)  # BTCHW in [0, 1]
    batch = batch.permute(0, 2, 1, 3, 4)  # trans: BCTHW

    def preprocess_single(video, resolution=224):
        c, t, h, w = video.shape
        scale = resolution / min(h, w)
        target = (resolution, math.ceil(w * scale)) if h < w else (math.ceil(h * scale), resolution)
        video = F.interpolate(video, size=target, mode="bilinear", align_corners=False)
        c, t, h, w = video.shape
        w0, h0 = (w - resolution) // 2, (h - resolution) // 2
        return ((video[:, :, h0:h0 + resolution, w0:w0 + resolution] - 0.5) * 2).contiguous()

    feats = np.empty((0, 400))
    with torch.no_grad():
        for i in range((len(batch) - 1) // 10 + 1):
            x = torch.stack([preprocess_single(v) for v in batch[i * 10:(i + 1) * 10]])
            feats = np.vstack([feats, detector(x=x, rescale=False, resize=False, return_features=True).numpy()])
    return feats


def tats_features(net, videos_: list[np.ndarray]) -> np.ndarray:
    """TATS / this project's windows: non-overlapping 16-frame windows, bilinear 224 on 0-255, 2x/255 - 1."""
    clips = np.concatenate([v[: len(v) // 16 * 16].reshape(-1, 16, *v.shape[1:]) for v in videos_])
    frames = torch.from_numpy(clips).float().flatten(0, 1).permute(0, 3, 1, 2)
    frames = F.interpolate(frames, size=(224, 224), mode="bilinear", align_corners=False)
    x = 2.0 * frames.view(len(clips), 16, 3, 224, 224).transpose(1, 2) / 255.0 - 1
    with torch.no_grad():
        return net(x).numpy().astype(np.float64)


# ----- sampling -------------------------------------------------------------------------------------
def test_stylegan_v_samples_the_first_clip_of_predictions_and_a_random_clip_of_gt():
    protocol = Protocol(fvd_protocol="stylegan-v")
    frames = np.arange(18)[:, None, None, None] * np.ones((1, 2, 2, 3), np.uint8)
    offsets = set()
    for key in range(300):
        video_sha = hashlib.sha256(str(key).encode()).hexdigest()
        gt = P.samples(protocol, frames, "gt", video_sha)
        offset = int(gt[0, 0, 0, 0, 0])
        assert gt.shape == (1, 16, 2, 2, 3) and (gt[0, :, 0, 0, 0] == np.arange(offset, offset + 16)).all()
        offsets.add(offset)
        assert offset == P.stylegan_v_offset(18, 16, 0, video_sha)  # a rerun draws the same
    assert offsets == {0, 1, 2}  # random.randint(0, T - 16): both ends included
    assert (P.samples(protocol, frames, "pred", video_sha)[0, :, 0, 0, 0] == np.arange(16)).all()
    assert len(P.samples(protocol, frames[:15], "gt", video_sha)) == 0  # discard_short_videos
    other_seed = {P.stylegan_v_offset(80, 16, 1, hashlib.sha256(str(k).encode()).hexdigest()) for k in range(20)}
    assert other_seed != {P.stylegan_v_offset(80, 16, 0, hashlib.sha256(str(k).encode()).hexdigest()) for k in range(20)}


def test_common_metrics_takes_the_whole_clip_and_windows_every_window():
    frames = np.arange(35)[:, None, None, None] * np.ones((1, 2, 2, 3), np.uint8)
    whole = P.samples(Protocol(fvd_protocol="common-metrics"), frames, "gt", "0" * 64)
    assert whole.shape == (1, 35, 2, 2, 3) and (whole[0] == frames).all()
    assert len(P.samples(Protocol(fvd_protocol="common-metrics"), frames[:9], "pred", "0" * 64)) == 0  # needs >= 10
    w = P.samples(Protocol(fvd_protocol="windows"), frames, "pred", "0" * 64)
    assert w.shape == (2, 16, 2, 2, 3) and (w[1, 0] == 16).all() and (w[1, -1] == 31).all()
    assert set(P.PROTOCOLS) == set(FVD_PROTOCOLS) and Protocol().fvd_protocol in FVD_PROTOCOLS


# ----- each protocol against its tool ---------------------------------------------------------------
def test_stylegan_v_equals_stylegan_v(scripted, monkeypatch):
    detector, store = scripted
    monkeypatch.setitem(W.MANIFEST, "i3d-torchscript", store.manifest["i3d-torchscript"])
    protocol = Protocol(fvd_protocol="stylegan-v")
    pred, gt = videos(24, 20, 16, 16, seed=1), videos(24, 20, 16, 16, seed=2)
    networks = ExtractorSet(weights_dir=store.root, fvd_protocol="stylegan-v")
    got = ours(networks, protocol, pred, gt)
    assert networks.get("i3d-torchscript").weights == store.manifest["i3d-torchscript"].digest.value

    offsets = [P.stylegan_v_offset(len(g), 16, protocol.fvd_seed, sha(g)) for g in gt]
    real, fake = stylegan_v_features(detector, gt, offsets), stylegan_v_features(detector, pred, [0] * len(pred))
    expected = sqrtm_frechet(*feature_stats_mean_cov(fake), *feature_stats_mean_cov(real))
    assert got["fvd"] == pytest.approx(expected, rel=1e-5)
    assert got["kvd"] == pytest.approx(polynomial_mmd(fake, real), rel=1e-5)
    unbiased = sqrtm_frechet(fake.mean(0), np.cov(fake, rowvar=False), real.mean(0), np.cov(real, rowvar=False))
    assert abs(got["fvd"] - unbiased) > 1e-3 * expected  # the covariance form is StyleGAN-V's, and it matters


def test_common_metrics_equals_common_metrics_on_non_square_frames(scripted, monkeypatch):
    detector, store = scripted
    monkeypatch.setitem(W.MANIFEST, "i3d-torchscript", store.manifest["i3d-torchscript"])
    protocol = Protocol(fvd_protocol="common-metrics")
    pred, gt = videos(12, 10, 12, 16, seed=3), videos(12, 10, 12, 16, seed=4)  # h < w: resize, then centre crop
    got = ours(ExtractorSet(weights_dir=store.root, fvd_protocol="common-metrics"), protocol, pred, gt)
    fake, real = common_metrics_features(detector, pred), common_metrics_features(detector, gt)
    expected = sqrtm_frechet(fake.mean(0), np.cov(fake, rowvar=False), real.mean(0), np.cov(real, rowvar=False))
    assert got["fvd"] == pytest.approx(expected, rel=1e-5)
    assert got["kvd"] == pytest.approx(polynomial_mmd(fake, real), rel=1e-5)


def test_windows_equals_tats_on_every_window():
    with seeded(4):
        net = ScriptedI3D().eval()
    networks = ExtractorSet(fvd_protocol="windows")
    networks._built["i3d"] = I3DExtractor(net, "random-init", "test")
    pred, gt = videos(6, 35, 12, 12, seed=5), videos(6, 35, 12, 12, seed=6)
    got = ours(networks, Protocol(fvd_protocol="windows"), pred, gt)
    fake, real = tats_features(net, pred), tats_features(net, gt)
    assert len(fake) == 12  # 2 windows per 35-frame video, the tail dropped
    expected = sqrtm_frechet(fake.mean(0), np.cov(fake, rowvar=False), real.mean(0), np.cov(real, rowvar=False))
    assert got["fvd"] == pytest.approx(expected, rel=1e-5)


# ----- the TorchScript file -------------------------------------------------------------------------
def test_torchscript_loads_from_the_cache_only_after_its_identity_checks(scripted, tmp_path):
    detector, store = scripted
    extractor = I3DTorchScriptExtractor.load(store)
    clips = videos(3, 16, 20, 24, seed=7)
    x = torch.from_numpy(np.stack(clips)).permute(0, 4, 1, 2, 3).contiguous()
    with torch.no_grad():
        expected = detector(x, rescale=True, resize=True, return_features=True).numpy()
    np.testing.assert_allclose(extractor.fvd_features(np.stack(clips), "stylegan-v", batch_size=2), expected, atol=1e-6)
    assert extractor.provenance()["source"] == str(store.path("i3d-torchscript"))
    with pytest.raises(ValueError, match="not 'windows'"):
        extractor.fvd_features(np.stack(clips), "windows")

    (tmp_path / "i3d_torchscript.pt").write_bytes(store.path("i3d-torchscript").read_bytes())
    with pytest.raises(DataError, match="'i3d-torchscript' have git-blob-sha1 [0-9a-f]{40}, the manifest's git-blob-sha1 is 93daef59"):
        I3DTorchScriptExtractor.load(W.WeightsStore(tmp_path))  # a scripted file that is not StyleGAN-V's
    with pytest.raises(WeightsMissingError, match="mmgt weights fetch i3d-torchscript"):
        I3DTorchScriptExtractor.load(W.WeightsStore(tmp_path / "empty"))


def test_untrained_stand_in_has_the_call_form():
    with pytest.warns(UserWarning, match="NOT real metric values"):
        extractor = I3DTorchScriptExtractor.load(W.WeightsStore("/nonexistent"), allow_untrained=True)
    clips = np.stack(videos(2, 10, 16, 16, seed=8))
    for protocol in ("stylegan-v", "common-metrics"):
        features = extractor.fvd_features(clips, protocol)
        assert features.shape == (2, 400) and np.abs(features[0] - features[1]).max() > 0


# ----- a run ----------------------------------------------------------------------------------------
def test_switching_the_protocol_on_the_embedded_split_moves_only_fvd_and_kvd(tiny_split, method_outputs, tmp_path):
    from eval.config import EvalConfig
    from eval.harness import Evaluator
    from eval.run import evaluate

    with seeded(5):
        net = ScriptedI3D().eval()
    runs = {}
    for name in FVD_PROTOCOLS:  # one cache for all three: features of one protocol never serve another
        config = EvalConfig(pred=method_outputs["still"], gt=tiny_split, metrics=("psnr", "fvd", "kvd"),
                            regions=("full",), protocol=Protocol(fvd_protocol=name), cache_dir=tmp_path / "cache", progress=False)
        networks = ExtractorSet(fvd_protocol=name)
        networks._built |= {"i3d": I3DExtractor(net, "random-init", "test"),
                            "i3d-torchscript": I3DTorchScriptExtractor(net, "random-init", "test")}
        runs[name], _, _ = evaluate(config, Evaluator(config, networks))
        assert runs[name]["protocol"]["fvd_protocol"] == name
        assert set(runs[name]["extractors"]) == {P.PROTOCOLS[name].network}
    for name, results in runs.items():
        for region, outputs in results["metrics"].items():
            for metric, entry in outputs.items():
                reference = runs["common-metrics"]["metrics"][region][metric]
                if metric in ("fvd", "kvd"):
                    assert name == "common-metrics" or entry["value"] != reference["value"], (name, region, metric)
                else:
                    assert entry == reference, (name, region, metric)
    clips = runs["windows"]["metrics"]["full"]["fvd"]["n_pred"] // 5  # 5 windows per 80-frame clip
    assert runs["stylegan-v"]["metrics"]["full"]["fvd"]["n_pred"] == runs["common-metrics"]["metrics"]["full"]["fvd"]["n_pred"] == clips
