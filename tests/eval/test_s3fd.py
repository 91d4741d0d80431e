"""S3FD as syncnet_python's pipeline runs it: the file layout of sfd_face.pth, the heads, anchors, decoding
and NMS against hand-computed values and torchvision, the colour order, and equality with syncnet-python's
own ``detectors.s3fd`` on the same (seeded random) weights."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torchvision
from syncnet_python.detectors.s3fd import S3FD
from syncnet_python.detectors.s3fd.nets import S3FDNet as PackageS3FDNet

from eval.extractor_set import ExtractorSet
from eval.extractors import describe
from eval.extractors.base import RANDOM_INIT, UntrainedExtractorWarning, seeded, variance_preserving
from eval.extractors.s3fd import S3FDExtractor, S3FDNet, decode, detect, greedy_nms, prior_boxes
from eval.face_detector import MTCNNFaceDetector, S3FDFaceDetector, S3FDSettings
from mmgt.errors import MMGTError, WeightsMissingError
from mmgt.weights import WeightsStore, sha256_file

S3FD_URL = "http://www.robots.ox.ac.uk/~vgg/software/lipsync/data/sfd_face.pth"


def tame_random_net(seed: int = 0) -> S3FDNet:
    """He-normal random S3FD with the heads' weights shrunk, so scores spread around 0.5 (not saturated at 1)."""
    with seeded(seed):
        net = variance_preserving(S3FDNet())
        for head in (*net.loc, *net.conf):
            head.weight.data.mul_(0.05)
    return net.eval()


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory):
    """A weights dir holding a seeded random S3FD saved as a state dict named like the real file."""
    root = tmp_path_factory.mktemp("weights")
    torch.save(tame_random_net().state_dict(), root / "sfd_face.pth")
    return root


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (3, 256, 256, 3), dtype=np.uint8)


def test_saved_state_dict_has_syncnet_python_key_names_and_loads_strictly(weights_dir):
    state = torch.load(weights_dir / "sfd_face.pth", weights_only=True)
    reference = PackageS3FDNet(device="cpu").state_dict()  # the module that loads the real sfd_face.pth
    assert list(state) == list(reference)
    assert all(state[k].shape == reference[k].shape for k in state)
    assert {"vgg.0.weight", "vgg.33.bias", "L2Norm3_3.weight", "extras.0.weight", "loc.0.weight",
            "conf.0.weight"} <= set(state)
    assert state["conf.0.weight"].shape[0] == 4 and state["conf.1.weight"].shape[0] == 2  # max-out head
    extractor = S3FDExtractor.load(WeightsStore(weights_dir), inference_form=False)
    assert extractor.weights == sha256_file(weights_dir / "sfd_face.pth") and not extractor.untrained
    assert all(torch.equal(extractor.net.state_dict()[k], v) for k, v in state.items())
    with pytest.raises(RuntimeError, match="Unexpected key"):  # strict: a foreign key stops the load
        S3FDExtractor.load_into(S3FDNet(), state | {"extra.weight": torch.zeros(1)})


def test_missing_file_names_it_with_url_and_fetch_command(tmp_path):
    with pytest.raises(WeightsMissingError, match=rf"sfd_face.pth \(source {S3FD_URL}\).*mmgt weights fetch s3fd"):
        S3FDExtractor.load(WeightsStore(tmp_path))
    with pytest.raises(WeightsMissingError, match="sfd_face.pth"):
        ExtractorSet(weights_dir=tmp_path).face_detector("s3fd")
    assert "mmgt weights fetch s3fd" in describe(tmp_path)  # `mmgt-eval ls`


def test_random_init_only_when_allowed_seeded_marked_and_cached(tmp_path):
    with pytest.warns(UntrainedExtractorWarning, match="NOT real metric values"):
        networks = ExtractorSet(weights_dir=tmp_path, allow_untrained=True)
        detector = networks.face_detector("s3fd")
    with pytest.warns(UntrainedExtractorWarning):
        again = ExtractorSet(weights_dir=tmp_path, allow_untrained=True).face_detector("s3fd")
    assert detector.untrained and detector.weights == RANDOM_INIT
    assert networks.face_detector("s3fd") is detector
    assert torch.equal(detector.extractor.net.vgg[0].weight, again.extractor.net.vgg[0].weight)  # seed 0
    provenance = detector.provenance()
    assert provenance["detector"] == "s3fd" and provenance["untrained"] and provenance["weights"] == RANDOM_INIT
    assert provenance["settings"] == {"scale": 0.25, "conf_threshold": 0.9}  # run_pipeline.py's
    custom = networks.face_detector("s3fd", S3FDSettings(scale=0.5))
    assert custom.settings.scale == 0.5 and custom.extractor is detector.extractor


def test_face_detector_by_name_keeps_mtcnn_as_default(tmp_path):
    networks = ExtractorSet(weights_dir=tmp_path)
    assert isinstance(networks.face_detector(), MTCNNFaceDetector)
    assert networks.face_detector("mtcnn") is networks.face_detector()
    assert networks.face_detector().provenance()["detector"] == "mtcnn"
    with pytest.raises(MMGTError, match="unknown face detector 'nope'; valid: mtcnn, s3fd"):
        networks.face_detector("nope")


def test_heads_shapes_and_max_out_background():
    net = tame_random_net()
    with torch.no_grad():
        for conv in net.conf:
            conv.weight.zero_()
            conv.bias.zero_()
        net.conf[0].bias.copy_(torch.tensor([1.0, 3.0, 2.0, 0.5]))  # 3 background logits, then face
        loc, face, anchors = net(torch.zeros(2, 3, 64, 96))
    cells = [16 * 24, 8 * 12, 4 * 6, 2 * 3, 1 * 2, 1 * 1]  # strides 4..128 (pool3 with ceil_mode)
    assert loc.shape == (2, sum(cells), 4) and face.shape == (2, sum(cells)) and anchors.shape == (sum(cells), 4)
    first = 1 / (1 + math.exp(3.0 - 0.5))  # softmax(max(1, 3, 2), 0.5)[1]
    assert torch.allclose(face[:, : cells[0]], torch.tensor(first))
    assert torch.allclose(face[:, cells[0]:], torch.tensor(0.5))


def test_anchors_by_hand():
    anchors = prior_boxes((8, 12), [(2, 3), (1, 2)])  # strides 4 and 8, sizes 16 and 32
    expected = [[(j + 0.5) / 3, (i + 0.5) / 2, 16 / 12, 16 / 8] for i in range(2) for j in range(3)]
    expected += [[(j + 0.5) / 1.5, 0.5, 32 / 12, 32 / 8] for j in range(2)]
    assert torch.allclose(anchors, torch.tensor(expected))


def test_decode_by_hand():
    anchors = torch.tensor([[0.5, 0.5, 0.2, 0.4], [0.3, 0.6, 0.1, 0.1]])
    loc = torch.tensor([[0.0, 0.0, 0.0, 0.0], [1.0, -2.0, math.log(2) / 0.2, 0.0]])
    # centre + 0.1 * offset * size; size * exp(0.2 * offset)
    cx, cy, w, h = 0.3 + 0.1 * 0.1, 0.6 - 2 * 0.1 * 0.1, 0.2, 0.1
    expected = torch.tensor([[0.4, 0.3, 0.6, 0.7], [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]])
    assert torch.allclose(decode(loc, anchors), expected)


def test_detect_thresholds_suppresses_and_orders():
    # boxes equal to their anchors (zero offsets): corners (cx -+ w/2, cy -+ h/2)
    anchors = torch.tensor([[0.25, 0.25, 0.2, 0.2], [0.26, 0.26, 0.2, 0.2], [0.7, 0.7, 0.2, 0.2],
                            [0.7, 0.2, 0.2, 0.2], [0.2, 0.7, 0.2, 0.2]])
    face = torch.tensor([0.8, 0.9, 0.7, 0.04, 0.06])  # the second overlaps the first (IoU 0.82); 0.04 < 0.05
    rows = detect(torch.zeros(5, 4), face, anchors)
    expected = torch.tensor([[0.9, 0.16, 0.16, 0.36, 0.36], [0.7, 0.6, 0.6, 0.8, 0.8], [0.06, 0.1, 0.6, 0.3, 0.8]])
    assert torch.allclose(rows, expected)


@pytest.mark.parametrize(("iou", "dtype", "top_k"), [(0.3, torch.float32, None), (0.1, torch.float64, None),
                                                    (0.3, torch.float32, 40)])
def test_greedy_nms_equals_torchvision(iou, dtype, top_k):
    gen = torch.Generator().manual_seed(1)
    corner = torch.rand(300, 2, generator=gen, dtype=dtype)
    boxes = torch.cat((corner, corner + 0.05 + 0.3 * torch.rand(300, 2, generator=gen, dtype=dtype)), 1)
    scores = torch.rand(300, generator=gen, dtype=dtype)
    best = scores.argsort(descending=True)[:top_k]
    expected = best[torchvision.ops.nms(boxes[best], scores[best], iou)]
    kept = greedy_nms(boxes, scores, iou, top_k)
    assert 1 < len(kept) < len(best) and torch.equal(kept, expected)


def test_preprocessing_is_rgb_minus_syncnet_python_mean_in_rgb_order():
    """detect_faces subtracts (104, 117, 123) in BGR order and flips back: R - 123, G - 117, B - 104."""
    frame = np.empty((1, 8, 12, 3), np.uint8)
    frame[...] = (200, 50, 10)  # R, G, B all different: a BGR mix-up changes every channel
    x = S3FDExtractor.preprocess(frame, 1.0)
    assert x.shape == (1, 3, 8, 12) and x.dtype == torch.float32
    assert torch.equal(x[0, :, 0, 0], torch.tensor([77.0, -67.0, -94.0]))
    assert S3FDExtractor.preprocess(np.repeat(frame, 8, axis=1), 0.25).shape == (1, 3, 16, 3)


@pytest.mark.parametrize(("shape", "scale", "conf"), [((256, 256), 0.25, 0.5), ((90, 130), 0.5, 0.55)])
def test_detections_equal_syncnet_python_detect_faces(weights_dir, shape, scale, conf):
    """The package's S3FD.detect_faces on the RGB frame (as run_pipeline.py calls it) on the same weights."""
    rng = np.random.default_rng(3)
    frames = rng.integers(0, 256, (2, *shape, 3), dtype=np.uint8)
    reference_net = PackageS3FDNet(device="cpu")
    reference_net.load_state_dict(torch.load(weights_dir / "sfd_face.pth", weights_only=True))
    reference = S3FD(reference_net, device="cpu")
    plain = S3FDExtractor.load(WeightsStore(weights_dir), inference_form=False)
    ours = []
    for frame in frames:  # one frame at a time, as the reference runs: equal to the last bit
        expected = reference.detect_faces(frame, conf_th=conf, scales=[scale])
        ours.append(plain.detect_faces(frame[None], scale, conf)[0])
        assert 0 < len(ours[-1]) and ours[-1].dtype == np.float64
        np.testing.assert_array_equal(ours[-1], expected)
    # as the harness runs it (batched, channels-last): the same boxes to float32 rounding
    fast = S3FDFaceDetector(S3FDExtractor.load(WeightsStore(weights_dir)), S3FDSettings(scale, conf))
    boxes = fast(frames)
    assert fast.extractor.layout == "channels_last"
    for box, found in zip(boxes, ours):
        assert box.shape == (4,) and box.dtype == np.float64
        np.testing.assert_allclose(box, found[0, :4], rtol=1e-4, atol=1e-3)


def test_detector_call_gives_most_confident_box_or_none(weights_dir, frames):
    extractor = S3FDExtractor.load(WeightsStore(weights_dir))
    detector = S3FDFaceDetector(extractor, S3FDSettings(conf_threshold=0.5))
    everything = detector.detections(frames)
    assert sum(map(len, everything)) > 0 and all(np.all(np.diff(d[:, 4]) <= 0) for d in everything)
    boxes = detector(frames)
    assert len(boxes) == len(frames)
    assert all(np.array_equal(b, d[0, :4]) for b, d in zip(boxes, everything))
    none = S3FDFaceDetector(extractor, S3FDSettings(conf_threshold=1.0))(frames)  # scores never exceed 1
    assert none == [None] * len(frames)
    assert detector(frames[:0]) == []
    assert not detector.untrained and detector.weights == sha256_file(weights_dir / "sfd_face.pth")
