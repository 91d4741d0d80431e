"""LPIPS aggregation against the lpips package called frame by frame (random-init AlexNet)."""

import warnings

import lpips
import numpy as np
import pytest
import torch

from eval.metrics import LPIPSMetric


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    with warnings.catch_warnings():  # torchvision: 'pretrained' is deprecated (lpips 0.1.4 passes it)
        warnings.simplefilter("ignore", UserWarning)
        return lpips.LPIPS(net="alex", version="0.1", pretrained=True, pnet_rand=True, verbose=False).eval()


@pytest.fixture(scope="module")
def frames():
    rng = np.random.default_rng(0)
    pred = rng.random((5, 64, 64, 3)).astype(np.float32)
    gt = np.clip(pred + rng.normal(0, 0.2, pred.shape), 0, 1).astype(np.float32)
    return pred, gt


def direct(net, pred, gt, scale):
    to_net = lambda x: scale(torch.from_numpy(x).permute(2, 0, 1)[None])  # noqa: E731
    with torch.no_grad():
        return [net(to_net(p), to_net(g)).item() for p, g in zip(pred, gt)]


def test_equals_lpips_package_frame_by_frame(net, frames):
    pred, gt = frames
    metric = LPIPSMetric(net, chunk=2)
    metric.update(pred, gt, ["a", "a", "b", "b", "b"])
    per_frame = direct(net, pred, gt, lambda x: x * 2 - 1)
    expected = (np.mean(per_frame[:2]) + np.mean(per_frame[2:])) / 2
    assert metric.compute()["lpips"] == pytest.approx(expected, abs=1e-6)
    unscaled = direct(net, pred, gt, lambda x: x)  # the classic bug: [0, 1] fed as if [-1, 1]
    assert abs((np.mean(unscaled[:2]) + np.mean(unscaled[2:])) / 2 - expected) > 1e-3


def test_rejects_frames_already_in_minus_one_one(net, frames):
    pred, gt = frames
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        LPIPSMetric(net).update(pred * 2 - 1, gt * 2 - 1, "a")


def test_rejects_a_network_with_the_wrong_output(frames):
    pred, gt = frames
    with pytest.raises(ValueError, match="the network gave"):
        LPIPSMetric(lambda a, b: (a - b).mean()).update(pred, gt, "a")
