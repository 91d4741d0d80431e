"""I3D: the TATS/VideoGPT state-dict layout, TATS preprocessing, (N, 400) output, batch invariance."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from eval.extractors.base import seeded, variance_preserving
from eval.extractors.i3d import I3DExtractor
from eval.extractors.i3d_net import InceptionI3d
from mmgt.errors import DataError, WeightsMissingError
from mmgt.weights import MANIFEST, Digest, WeightsStore, sha256_file

# The public port's layout: unit name -> (out, in, kernel); Mixed blocks: input channels and branch widths.
STEM = {"Conv3d_1a_7x7": (64, 3, 7), "Conv3d_2b_1x1": (64, 64, 1), "Conv3d_2c_3x3": (192, 64, 3)}
MIXED = {
    "Mixed_3b": (192, (64, 96, 128, 16, 32, 32)), "Mixed_3c": (256, (128, 128, 192, 32, 96, 64)),
    "Mixed_4b": (480, (192, 96, 208, 16, 48, 64)), "Mixed_4c": (512, (160, 112, 224, 24, 64, 64)),
    "Mixed_4d": (512, (128, 128, 256, 24, 64, 64)), "Mixed_4e": (512, (112, 144, 288, 32, 64, 64)),
    "Mixed_4f": (528, (256, 160, 320, 32, 128, 128)), "Mixed_5b": (832, (256, 160, 320, 32, 128, 128)),
    "Mixed_5c": (832, (384, 192, 384, 48, 128, 128)),
}
BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def expected_shapes() -> dict[str, tuple[int, ...]]:
    units = {name: (out, cin, (k, k, k)) for name, (out, cin, k) in STEM.items()}
    for name, (cin, (b0, b1a, b1b, b2a, b2b, b3b)) in MIXED.items():
        units |= {f"{name}.b0": (b0, cin, (1, 1, 1)), f"{name}.b1a": (b1a, cin, (1, 1, 1)),
                  f"{name}.b1b": (b1b, b1a, (3, 3, 3)), f"{name}.b2a": (b2a, cin, (1, 1, 1)),
                  f"{name}.b2b": (b2b, b2a, (3, 3, 3)), f"{name}.b3b": (b3b, cin, (1, 1, 1))}
    shapes = {}
    for unit, (out, cin, kernel) in units.items():
        shapes[f"{unit}.conv3d.weight"] = (out, cin, *kernel)
        shapes |= {f"{unit}.bn.{p}": () if p == "num_batches_tracked" else (out,) for p in BN}
    return shapes | {"logits.conv3d.weight": (400, 1024, 1, 1, 1), "logits.conv3d.bias": (400,)}


def trusting(folder, name: str) -> WeightsStore:
    """The weights cache ``folder`` whose entry ``name`` is checked against its (random-init) file's own sha256."""
    entry = MANIFEST[name]
    return WeightsStore(folder, {name: dataclasses.replace(entry, digest=Digest("sha256", sha256_file(folder / entry.filename)))})


def tats_preprocess(videos: np.ndarray) -> torch.Tensor:
    """TATS fvd.preprocess, step by step."""
    b, t, h, w, c = videos.shape
    frames = torch.FloatTensor(videos).flatten(end_dim=1).permute(0, 3, 1, 2).contiguous()
    resized = F.interpolate(frames, size=(224, 224), mode="bilinear", align_corners=False)
    return 2.0 * resized.view(b, t, c, 224, 224).transpose(1, 2).contiguous() / 255.0 - 1


def test_state_dict_matches_the_tats_layout():
    got = {k: tuple(v.shape) for k, v in InceptionI3d().state_dict().items()}
    assert got == expected_shapes()


def test_loads_the_tats_file_equals_tats_preprocessing_and_is_batch_invariant(tmp_path):
    with seeded(7):
        reference = variance_preserving(InceptionI3d()).eval()
    old_style = {k: v for k, v in reference.state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save(old_style, tmp_path / "i3d_pretrained_400.pt")  # files from old torch lack the counters
    with pytest.raises(DataError, match="'i3d-400' have git-blob-sha1 [0-9a-f]{40}, the manifest's git-blob-sha1 is a867b87a"):
        I3DExtractor.from_weights(WeightsStore(tmp_path))  # a random file under the real name is refused
    extractor = I3DExtractor.from_weights(trusting(tmp_path, "i3d-400"))
    assert not extractor.untrained and len(extractor.weights) == 64

    clips = np.random.default_rng(0).integers(0, 256, size=(2, 16, 40, 48, 3), dtype=np.uint8)
    ours = extractor.features(clips, batch_size=1)
    with torch.inference_mode():
        expected = reference(tats_preprocess(clips)).numpy()
    assert ours.shape == (2, 400)
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-5)
    assert np.abs(ours[0] - ours[1]).max() > 1e-2 * np.abs(ours).max()  # different clips, different logits


def test_missing_weights_name_the_file_and_the_fetch_command(tmp_path):
    with pytest.raises(WeightsMissingError, match="i3d_pretrained_400.pt.*mmgt weights fetch i3d-400"):
        I3DExtractor.load(WeightsStore(tmp_path))
