"""LPIPS: our loader (backbone from the weights cache, heads from the package) equals the lpips
package loading the same AlexNet file through torchvision."""

from __future__ import annotations

import dataclasses
import warnings

import lpips
import pytest
import torch
import torchvision

from eval.extractors.base import UntrainedExtractorWarning, seeded
from eval.extractors.lpips_net import LPIPSExtractor
from mmgt.errors import DataError
from mmgt.weights import MANIFEST, Digest, WeightsStore, sha256_file

FILE = MANIFEST["alexnet"].filename


@pytest.fixture(scope="module")
def alexnet_file(tmp_path_factory):
    """A seeded random torchvision AlexNet saved under its release file name (in a weights dir and a torch hub)."""
    root = tmp_path_factory.mktemp("home")
    (root / "hub" / "checkpoints").mkdir(parents=True)
    with seeded(11):
        state = torchvision.models.alexnet(weights=None).state_dict()
    for folder in (root, root / "hub" / "checkpoints"):
        torch.save(state, folder / FILE)
    return root


def test_equals_the_lpips_package_with_the_same_backbone(alexnet_file, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(alexnet_file))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        reference = lpips.LPIPS(net="alex", version="0.1", verbose=False).eval()
    digest = sha256_file(alexnet_file / FILE)
    manifest = {"alexnet": dataclasses.replace(MANIFEST["alexnet"], digest=Digest("sha256", digest))}
    ours = LPIPSExtractor.from_weights(WeightsStore(alexnet_file, manifest))
    assert ours.weights == digest and not ours.untrained

    gen = torch.Generator().manual_seed(0)
    x, y = torch.rand(3, 3, 64, 64, generator=gen) * 2 - 1, torch.rand(3, 3, 64, 64, generator=gen) * 2 - 1
    with torch.inference_mode():
        expected = reference(x, y).reshape(-1)
    got = ours(x, y)
    assert got.shape == (3,)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)
    assert (got > 0).all() and torch.equal(ours(x, x), torch.zeros(3))


def test_a_file_that_is_not_the_release_is_refused(alexnet_file):
    """The real manifest knows the release's sha256 prefix (7be5be79): a random file fails it."""
    with pytest.raises(DataError, match="'alexnet' have sha256 [0-9a-f]{64}, the manifest's sha256-prefix is 7be5be79"):
        LPIPSExtractor.load(WeightsStore(alexnet_file), allow_untrained=True)


def test_random_backbone_only_when_allowed(tmp_path):
    with pytest.warns(UntrainedExtractorWarning, match="alexnet-owt-7be5be79.pth"):
        ours = LPIPSExtractor.load(WeightsStore(tmp_path), allow_untrained=True)
    assert ours.untrained and ours.provenance()["weights"] == "random-init"
