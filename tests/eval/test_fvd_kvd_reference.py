"""FVD and KVD of a run (the ``windows`` FVD protocol) re-stated apart from the harness: seeded I3D weights saved in the real file layout,
features computed here (TATS preprocessing written out, the network unfolded, windows sliced by hand),
the Frechet distance through scipy's ``sqrtm`` (pytorch-fid's form) and the unbiased polynomial MMD
written as its three sums. One clip of two 16-frame windows keeps it to seconds; its degraded copy must
score worse than an identical one."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import numpy as np
import pytest
import scipy.linalg
import torch
import torch.nn.functional as F

from eval.config import EvalConfig
from eval.extractors.base import seeded, variance_preserving
from eval.extractors.i3d_net import InceptionI3d
from eval.protocol import Protocol
from eval.run import evaluate
from mmgt import weights as W
from mmgt.data.layout import Split
from mmgt.video_io import read_video, write_video

WINDOW, WINDOWS = 16, 2


@pytest.fixture(scope="module")
def i3d_weights(tmp_path_factory) -> Iterator[tuple[torch.nn.Module, object]]:
    """A seeded I3D in eval mode, and the weights folder holding it as ``i3d_pretrained_400.pt`` (the manifest
    trusts this file's sha256 while the module's runs use it)."""
    folder = tmp_path_factory.mktemp("i3d_weights")
    with seeded(11):
        net = variance_preserving(InceptionI3d()).eval()
    path = folder / W.MANIFEST["i3d-400"].filename
    torch.save(net.state_dict(), path)
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(W.MANIFEST, "i3d-400", dataclasses.replace(W.MANIFEST["i3d-400"], digest=W.Digest("sha256", W.sha256_file(path))))
        yield net, folder


@pytest.fixture(scope="module")
def videos(tiny_split, tmp_path_factory) -> dict[str, object]:
    """GT: one clip cut to two windows; predictions: the same video, and it under strong pixel noise."""
    root = tmp_path_factory.mktemp("fvd_clips")
    clip = Split(tiny_split).clips("test")[0]
    frames = read_video(clip.video_path)[: WINDOW * WINDOWS]
    noisy = np.clip(frames + np.random.default_rng(0).normal(0, 48, frames.shape), 0, 255).astype(np.uint8)
    for name, video in (("gt", frames), ("same", frames), ("noisy", noisy)):
        write_video(root / name / clip.clip_id / "video.mp4", video)
    return {name: root / name for name in ("gt", "same", "noisy")} | {"clip": clip.clip_id}


def features_apart(net: torch.nn.Module, video) -> np.ndarray:
    """``(windows, 400)`` logits: consecutive 16-frame windows, bilinear 224 from 0-255, ``2x/255 - 1``."""
    frames = torch.from_numpy(read_video(video)).float()
    clips = frames[: len(frames) // WINDOW * WINDOW].permute(0, 3, 1, 2)  # (T, 3, H, W)
    clips = F.interpolate(clips, size=(224, 224), mode="bilinear", align_corners=False) / 255.0 * 2 - 1
    clips = clips.unflatten(0, (-1, WINDOW)).transpose(1, 2)  # (windows, 3, 16, 224, 224)
    with torch.no_grad():
        return net(clips).double().numpy()


def frechet(x: np.ndarray, y: np.ndarray) -> float:
    """pytorch-fid's calculate_frechet_distance on the rows' mean and unbiased covariance."""
    mu1, mu2, s1, s2 = x.mean(0), y.mean(0), np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def mmd_polynomial(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3, the within-set sums without their diagonals."""
    d, m, n = x.shape[1], len(x), len(y)
    kxx, kyy, kxy = (x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3
    return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
                 - 2 * kxy.sum() / (m * n))


@pytest.fixture(scope="module")
def runs(videos, i3d_weights, tmp_path_factory) -> dict[str, dict]:
    cache = tmp_path_factory.mktemp("fvd_cache")
    return {name: evaluate(EvalConfig(pred=videos[name], gt=videos["gt"], metrics=("fvd", "kvd"), regions=("full",),
                                      protocol=Protocol(fvd_protocol="windows"), weights_dir=i3d_weights[1],
                                      cache_dir=cache, progress=False))[0]["metrics"]["full"]
            for name in ("same", "noisy")}  # metric -> {"value", "n_pred", ...}


def test_fvd_and_kvd_equal_the_maths_on_features_computed_apart(runs, videos, i3d_weights):
    net = i3d_weights[0]
    clip = videos["clip"]
    gt, noisy = (features_apart(net, videos[side] / clip / "video.mp4") for side in ("gt", "noisy"))
    assert gt.shape == (WINDOWS, 400) and np.abs(gt - noisy).max() > 1e-2 * np.abs(gt).max()
    assert runs["noisy"]["fvd"]["value"] == pytest.approx(frechet(noisy, gt), rel=1e-5)
    assert runs["noisy"]["kvd"]["value"] == pytest.approx(mmd_polynomial(noisy, gt), rel=1e-5)
    assert runs["noisy"]["fvd"]["n_pred"] == runs["noisy"]["kvd"]["n_gt"] == WINDOWS


def test_a_degraded_clip_scores_worse_than_an_identical_one(runs):
    fvd, kvd = ({name: runs[name][m]["value"] for name in runs} for m in ("fvd", "kvd"))
    assert fvd["same"] == pytest.approx(0.0, abs=1e-6 * fvd["noisy"]) and fvd["noisy"] > 1.0
    assert kvd["noisy"] > kvd["same"] + 1e-3 * abs(kvd["same"])
