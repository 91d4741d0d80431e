"""Extractors run in exact float32: TF32 off for cuDNN and matmul, deterministic algorithms, inside every
extractor call; the hardware, dtype and numerics are in each extractor's provenance and so in the cache keys."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import eval.extractors.base as B
from eval.extractor_set import ExtractorSet
from eval.protocol import Protocol


def flags() -> dict[str, object]:
    return {"cudnn_tf32": torch.backends.cudnn.allow_tf32, "matmul_tf32": torch.backends.cuda.matmul.allow_tf32,
            "cudnn_deterministic": torch.backends.cudnn.deterministic,
            "cudnn_benchmark": torch.backends.cudnn.benchmark, "deterministic": torch.are_deterministic_algorithms_enabled()}


EXACT = {"cudnn_tf32": False, "matmul_tf32": False, "cudnn_deterministic": True,
         "cudnn_benchmark": False, "deterministic": True}


def test_exact_numerics_sets_every_flag_and_restores_them():
    torch.backends.cudnn.allow_tf32 = True  # torch's default: convolutions in TF32 on Ampere and newer
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.benchmark = True
    before = flags()
    try:
        with B.exact_numerics():
            assert flags() == EXACT
        assert flags() == before
        with pytest.raises(RuntimeError), B.exact_numerics():
            raise RuntimeError("an extractor failed")
        assert flags() == before
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.benchmark = False, False


class Recorder:
    """Stands in for every extractor: records the numerics flags at each call."""

    dim, name, weights, untrained = 4, "recorder", "random-init", True

    def __init__(self, seen: list):
        self.seen = seen

    def _record(self, *args, **kwargs):
        self.seen.append(flags())
        return np.zeros((1, 4), np.float32)

    features = fvd_features = distances = landmarks = _record

    def __call__(self, pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:  # LPIPS's call form
        self._record()
        return torch.zeros(len(pred))


def test_every_extractor_call_of_a_run_is_exact(monkeypatch):
    seen: list[dict] = []
    networks = ExtractorSet()
    monkeypatch.setattr(networks, "get", lambda name: Recorder(seen))
    frames = np.zeros((16, 8, 8, 3), np.uint8)
    torch.backends.cudnn.allow_tf32 = True
    calls = [lambda: networks.inception(frames, 4), lambda: networks.i3d(frames, Protocol(), "gt", "0" * 64),
             lambda: networks.gesture(np.zeros((2, 16, 134, 3), np.float32), 256),
             lambda: networks.frame_scores("lpips", frames, frames, Protocol()),
             lambda: networks.sync_distances(frames, np.zeros(16000, np.float32), Protocol()),
             lambda: networks.landmarks("facemesh", frames)]
    for call in calls:
        call()
    assert len(seen) >= len(calls) and all(s == EXACT for s in seen), seen
    assert torch.backends.cudnn.allow_tf32  # restored after each call


def test_a_real_network_runs_exact_and_its_device_keys_the_cache(monkeypatch):
    inside: list[dict] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", B.UntrainedExtractorWarning)
        networks = ExtractorSet(allow_untrained=True)
        net = networks.get("inception").net
    net.register_forward_pre_hook(lambda module, args: inside.append(flags()))
    networks.inception(np.zeros((1, 32, 32, 3), np.uint8), 1)
    assert inside == [EXACT]

    key = networks.fingerprint(["fid"])
    monkeypatch.setattr(B, "device_name", lambda device: "cuda (NVIDIA H200)")
    assert networks.fingerprint(["fid"]) != key  # features of other hardware are never mixed in the cache
