"""Pose extractors: registry, DWPose pre/post-processing maths, MediaPipe mapping and a real run."""

from __future__ import annotations

import numpy as np
import pytest

from mmgt import keypoints as K
from mmgt import pose
from mmgt.errors import DataError, MMGTError, WeightsMissingError
from mmgt.pose import dwpose, rtmpose, yolox
from mmgt.pose.dwpose import DWPose, DWPoseConfig
from mmgt.pose.mediapipe_holistic import IBUG68_FROM_MESH, holistic_to_coco133


class _Input:
    name = "input"


class FakeSession:
    """onnxruntime-shaped session computing its outputs with ``fn``; remembers its inputs."""

    def __init__(self, fn):
        self.fn, self.seen = fn, []

    def get_inputs(self):
        return [_Input()]

    def run(self, names, feeds):
        self.seen.append(feeds["input"])
        return self.fn(feeds["input"])


# ---- registry and interface -------------------------------------------------------------------

class Constant(pose.PoseExtractor):
    name = "constant"

    def __init__(self, n_joints: int = K.NUM_JOINTS):
        self.n_joints = n_joints

    def extract(self, frames):
        return np.ones((len(frames), self.n_joints, 3))

    def provenance(self):
        return {"extractor": self.name}


def test_registry_names_and_errors():
    assert {"dwpose", "mediapipe"} <= set(pose.available())
    with pytest.raises(MMGTError, match="unknown pose extractor 'nope'; choose from .*dwpose.*mediapipe"):
        pose.create("nope")
    with pytest.raises(ValueError):
        pose.register("bad name!", Constant)
    pose.register("constant-test", Constant)
    try:
        assert isinstance(pose.create("constant-test"), Constant)
    finally:
        pose.unregister("constant-test")
    assert "constant-test" not in pose.available()


def test_interface_validates_frames_and_output():
    frames = np.zeros((2, 8, 8, 3), np.uint8)
    out = Constant()(frames)
    assert out.shape == (2, 134, 3) and out.dtype == np.float32
    with pytest.raises(ValueError, match="uint8"):
        Constant()(frames.astype(np.float32))
    with pytest.raises(ValueError, match="134"):
        Constant(133)(frames)


def test_zero_joints_zeroes_only_lower_body():
    kp = np.random.default_rng(0).random((3, 134, 3)).astype(np.float32)
    out = pose.zero_joints(kp)
    assert (out[:, list(K.LOWER_BODY)] == 0).all()
    keep = [j for j in range(134) if j not in K.LOWER_BODY]
    np.testing.assert_array_equal(out[:, keep], kp[:, keep])


# ---- YOLOX ------------------------------------------------------------------------------------

def test_letterbox_keeps_aspect_top_left_and_pads_114():
    img = np.full((100, 200, 3), 7, np.uint8)
    batch, ratio = yolox.letterbox(img)
    assert batch.shape == (3, 640, 640) and batch.dtype == np.float32 and ratio == pytest.approx(3.2)
    assert (batch[:, :320, :] == 7).all() and (batch[:, 320:, :] == 114).all()


def _anchor_index(stride: int, gx: int, gy: int) -> int:
    offset = {8: 0, 16: 80 * 80, 32: 80 * 80 + 40 * 40}[stride]
    return offset + gy * (640 // stride) + gx


def _encode_box(raw: np.ndarray, box, stride: int, obj: float, cls: int, prob: float) -> None:
    """Write the raw prediction that ``grid_decode`` turns into ``box`` (letterboxed pixels)."""
    cx, cy, w, h = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2, box[2] - box[0], box[3] - box[1]
    gx, gy = int(cx // stride), int(cy // stride)
    a = _anchor_index(stride, gx, gy)
    raw[a, :4] = [cx / stride - gx, cy / stride - gy, np.log(w / stride), np.log(h / stride)]
    raw[a, 4], raw[a, 5 + cls] = obj, prob


def test_grid_decode_inverts_the_yolox_parametrisation():
    raw = np.zeros((8400, 85), np.float32)
    _encode_box(raw, (100, 60, 300, 500), 32, 0.9, 0, 0.8)
    _encode_box(raw, (10, 20, 30, 60), 8, 0.5, 3, 0.5)
    boxes, scores = yolox.grid_decode(raw)
    a = _anchor_index(32, 200 // 32, 280 // 32)
    np.testing.assert_allclose(boxes[a], (100, 60, 300, 500), atol=1e-3)
    assert scores[a, 0] == pytest.approx(0.72) and scores.shape == (8400, 80)
    np.testing.assert_allclose(boxes[_anchor_index(8, 2, 5)], (10, 20, 30, 60), atol=1e-3)
    with pytest.raises(ValueError, match="anchors"):
        yolox.grid_decode(raw[:100])


def test_nms_suppresses_overlaps_and_keeps_score_order():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 9]], np.float32)
    scores = np.array([0.6, 0.9, 0.5, 0.3])
    assert yolox.nms(boxes, scores, 0.45) == [1, 2]
    assert yolox.nms(boxes, scores, 0.99) == [1, 0, 2, 3]


def _detector_for(box_in_image, ratio):
    def run(batch):
        raw = np.zeros((1, 8400, 85), np.float32)
        scaled = np.asarray(box_in_image) * ratio
        _encode_box(raw[0], scaled, 32, 0.95, 0, 0.95)  # the person
        _encode_box(raw[0], scaled + [4, 4, 4, 4], 16, 0.8, 0, 0.8)  # a duplicate, suppressed
        _encode_box(raw[0], (400, 400, 600, 600), 32, 0.99, 2, 0.99)  # a car
        return [raw]
    return run


def test_detect_people_returns_person_boxes_in_image_pixels():
    image = np.zeros((360, 480, 3), np.uint8)
    box = np.array([120.0, 30.0, 360.0, 350.0])
    session = FakeSession(_detector_for(box, 640 / 480))
    boxes, scores = yolox.detect_people(session, image)
    assert boxes.shape == (1, 4)
    np.testing.assert_allclose(boxes[0], box, atol=1e-2)
    assert scores[0] == pytest.approx(0.95 * 0.95)


# ---- RTMPose top-down -------------------------------------------------------------------------

def test_simcc_decode_argmax_split_ratio_and_score():
    x = np.zeros((3, 576), np.float32)
    y = np.zeros((3, 768), np.float32)
    x[0, 101], y[0, 500] = 0.8, 0.6
    x[1, 0], y[1, 767] = 0.4, 0.9
    locs, scores = rtmpose.simcc_decode(x, y)
    np.testing.assert_allclose(locs[0], (50.5, 250.0))
    np.testing.assert_allclose(locs[1], (0.0, 383.5))
    np.testing.assert_allclose(scores[:2], (0.6, 0.4))
    assert (locs[2] == -1).all() and scores[2] == 0  # no positive response: invalid


def test_fix_aspect_grows_the_short_side():
    np.testing.assert_allclose(rtmpose.fix_aspect(np.array([300.0, 100.0]), 0.75), (300, 400))
    np.testing.assert_allclose(rtmpose.fix_aspect(np.array([30.0, 400.0]), 0.75), (300, 400))


def test_crop_affine_round_trip():
    rng = np.random.default_rng(1)
    center, scale = np.array([210.0, 140.0]), rtmpose.fix_aspect(np.array([150.0, 180.0]), 0.75)
    matrix = rtmpose.crop_matrix(center, scale)
    points = rng.uniform(0, 400, (50, 2)).astype(np.float32)
    in_crop = points @ matrix[:, :2].T + matrix[:, 2]
    np.testing.assert_allclose(rtmpose.to_image(in_crop, center, scale), points, atol=1e-3)
    np.testing.assert_allclose(rtmpose.to_image(np.array([144.0, 192.0]), center, scale), center, atol=1e-4)


def _dot_image(h=360, w=480, at=(300, 100)):
    img = np.zeros((h, w, 3), np.uint8)
    x, y = at
    img[y - 1:y + 2, x - 1:x + 2] = (255, 0, 0)  # red in RGB
    return img


def _pose_at_brightest_first_channel(batch):
    """Fake RTMPose: every joint's SimCC peak at the brightest pixel of the crop's first channel."""
    first = batch[0, 0] * rtmpose.STD[0] + rtmpose.MEAN[0]
    v, u = np.unravel_index(np.argmax(first), first.shape)
    sx, sy = np.zeros((1, 133, 576), np.float32), np.zeros((1, 133, 768), np.float32)
    sx[..., int(u * 2)], sy[..., int(v * 2)] = 0.9, 0.7
    return [sx, sy]


def test_preprocess_normalises_rgb_and_decode_finds_the_dot_in_the_image():
    img = _dot_image()
    session = FakeSession(_pose_at_brightest_first_channel)
    kp = rtmpose.estimate(session, img, np.array([200, 20, 420, 330]))
    assert session.seen[0].shape == (1, 3, 384, 288)
    assert session.seen[0][0, 1].max() <= (0 - rtmpose.MEAN[1]) / rtmpose.STD[1] + 1e-3  # no green anywhere
    np.testing.assert_allclose(kp[:, :2], np.tile([300, 100], (133, 1)), atol=1.5)
    np.testing.assert_allclose(kp[:, 2], 0.7)


def _red_and_blue_dots(h=360, w=480) -> np.ndarray:
    """RGB frame: a red dot at (300, 100), a blue one at (150, 250): a model fed BGR sees blue in channel 0."""
    img = _dot_image(h, w)
    img[249:252, 149:152] = (0, 0, 255)
    return img


def test_dwpose_feeds_both_models_bgr_at_the_release_size_and_maps_back_to_frame_pixels():
    img = _red_and_blue_dots()
    assert dwpose.release_resize(img, 512).shape == (512, 704, 3)  # 360x480: 512 x 682.7, rounded to 64
    scale = np.array([704 / 480, 512 / 360] * 2)
    det = FakeSession(_detector_for(np.array([100.0, 20.0, 420.0, 330.0]) * scale, 640 / 704))
    model = DWPose(det, FakeSession(_pose_at_brightest_first_channel))
    out = model(np.stack([img, img]))
    assert out.shape == (2, 134, 3) and out.dtype == np.float32
    # RTMPose saw BGR: its first channel is blue, so the joints land on the blue dot (RGB would give the red one)
    np.testing.assert_allclose(out[:, 0, :2], [[150, 250]] * 2, atol=2.0)  # nose, in the frame's pixels
    np.testing.assert_allclose(out[:, 1, :2], [[150, 250]] * 2, atol=2.0)  # inserted neck
    np.testing.assert_allclose(out[:, K.FACE, :2].reshape(-1, 2), [[150, 250]] * 136, atol=2.0)
    # the detector saw the same BGR image at 512x704, letterboxed to 640 wide: red in its last channel
    seen = det.seen[0][0]
    assert seen[:, 465:].min() == 114  # 512x704 letterboxed: 465x640 of content
    red, blue = seen[:, 125:135, 395:405], seen[:, 318:328, 195:205]  # (300, 100) and (150, 250) * 704/480 * 640/704
    assert red[2].max() > 200 and red[0].max() < 50 and blue[0].max() > 200 and blue[2].max() < 50


def test_dwpose_at_native_size_when_asked():
    img = _red_and_blue_dots()
    det = FakeSession(_detector_for(np.array([100.0, 20.0, 420.0, 330.0]), 640 / 480))
    out = DWPose(det, FakeSession(_pose_at_brightest_first_channel), config=DWPoseConfig(detect_resolution=None))(img[None])
    np.testing.assert_allclose(out[0, 0, :2], [150, 250], atol=1.5)
    assert det.seen[0][0][:, 480:].min() == 114 and det.seen[0][0][:, :480].max() == 255  # 360x480 as is


def test_dwpose_falls_back_to_the_whole_frame_without_detections():
    img = _red_and_blue_dots()
    det = FakeSession(lambda batch: [np.zeros((1, 8400, 85), np.float32)])
    out = DWPose(det, FakeSession(_pose_at_brightest_first_channel))(img[None])
    np.testing.assert_allclose(out[0, 0, :2], (150, 250), atol=2.0)


def test_dwpose_without_weights_names_each_missing_file(tmp_path, monkeypatch):
    monkeypatch.setenv("MMGT_WEIGHTS_DIR", str(tmp_path))
    with pytest.raises(WeightsMissingError, match=r"dwpose-detector.*yolox_l\.onnx.*huggingface.*mmgt weights fetch"):
        pose.create("dwpose")
    (tmp_path / "yolox_l.onnx").write_bytes(b"not a model")
    with pytest.raises(WeightsMissingError, match=r"dw-ll_ucoco_384\.onnx"):
        pose.create("dwpose")
    (tmp_path / "dw-ll_ucoco_384.onnx").write_bytes(b"not a model")
    with pytest.raises(DataError, match=r"yolox_l\.onnx: not a loadable ONNX model"):
        pose.create("dwpose")


# ---- MediaPipe mapping ------------------------------------------------------------------------

def _numbered(n: int, visibility: float = 0.8) -> np.ndarray:
    """Landmark i at (i, 1000 + i) with the given visibility."""
    i = np.arange(n, dtype=np.float32)
    return np.stack([i, 1000 + i, np.full(n, visibility, np.float32)], axis=1)


def test_holistic_mapping_onto_the_134_layout():
    kp = K.insert_neck(holistic_to_coco133(_numbered(33), _numbered(468, 0.0), _numbered(21), None))
    # body in OpenPose order from MediaPipe pose indices (person's sides)
    expected = {0: 0, 2: 12, 3: 14, 4: 16, 5: 11, 6: 13, 7: 15, 8: 24, 9: 26, 10: 28,
                11: 23, 12: 25, 13: 27, 14: 5, 15: 2, 16: 8, 17: 7}
    for joint, landmark in expected.items():
        np.testing.assert_allclose(kp[joint], (landmark, 1000 + landmark, 0.8))
    np.testing.assert_allclose(kp[1], (11.5, 1011.5, 0.8))  # neck = shoulder mean
    # feet: l big toe <- left foot index, l heel <- left heel, small toes absent
    np.testing.assert_allclose(kp[18, :2], (31, 1031))
    np.testing.assert_allclose(kp[20, :2], (29, 1029))
    assert kp[19, 2] == 0 and kp[22, 2] == 0
    # face: iBUG chin (8) is mesh 152, nose bridge top (27) is the mean of mesh 168 and 6; all scored 1
    np.testing.assert_allclose(kp[24 + 8], (152, 1152, 1.0))
    np.testing.assert_allclose(kp[24 + 27, :2], (87, 1087))
    assert (kp[K.FACE, 2] == 1).all() and len(IBUG68_FROM_MESH) == 68
    # left hand copied one to one, right hand undetected
    np.testing.assert_allclose(kp[K.LEFT_HAND, 0], np.arange(21))
    assert (kp[K.LEFT_HAND, 2] == 1).all() and (kp[list(K.RIGHT_HAND)] == 0).all()


def test_holistic_mapping_of_nothing_is_all_zero():
    assert (holistic_to_coco133(None, None, None, None) == 0).all()


def _astronaut(flip: bool = False) -> np.ndarray:
    from skimage import data, transform

    img = (transform.resize(data.astronaut(), (256, 256), anti_aliasing=True) * 255).astype(np.uint8)
    return np.ascontiguousarray(img[:, ::-1]) if flip else img


# Eileen Collins' face in astronaut() resized to 256x256 (read off the image by hand, generous).
FACE_BOX = (80, 25, 145, 95)  # x0, y0, x1, y1


def _inside(points: np.ndarray, box) -> bool:
    x0, y0, x1, y1 = box
    return bool(((points[:, 0] >= x0) & (points[:, 0] <= x1) & (points[:, 1] >= y0) & (points[:, 1] <= y1)).all())


def test_mediapipe_on_astronaut_finds_face_and_shoulders():
    kp = pose.create("mediapipe")(_astronaut()[None])[0]
    assert kp.shape == (134, 3) and kp.dtype == np.float32
    head = [0, 14, 15]  # nose, eyes
    assert (kp[head, 2] > 0.5).all() and _inside(kp[head], FACE_BOX)
    assert (kp[K.FACE, 2] == 1).all() and _inside(kp[list(K.FACE)], FACE_BOX)
    shoulders = kp[[2, 5]]
    assert (shoulders[:, 2] > 0.5).all() and (shoulders[:, 1] > FACE_BOX[3]).all()  # below the face
    # sides are the person's: facing the camera, her right shoulder and eye are on the image left
    assert shoulders[0, 0] < shoulders[1, 0] and kp[14, 0] < kp[15, 0]
    np.testing.assert_allclose(kp[1, :2], shoulders[:, :2].mean(0), atol=1e-3)  # neck


def test_mediapipe_is_mirror_equivariant_with_sides_swapped():
    extractor = pose.create("mediapipe")
    kp, mirrored = extractor(_astronaut()[None])[0], extractor(_astronaut(flip=True)[None])[0]
    swap = {2: 5, 5: 2, 14: 15, 15: 14}  # a mirrored person's right shoulder is the original's left
    for joint, partner in swap.items():
        assert abs(mirrored[joint, 0] - (255 - kp[partner, 0])) < 8
        assert abs(mirrored[joint, 1] - kp[partner, 1]) < 8


def test_mediapipe_on_synthetic_speaker_matches_ground_truth_and_hand_sides():
    from mmgt.data.synth.generate import render_interval

    it = render_interval(1, 0.4, fps=25, size=(256, 256), index=2)
    kp, gt = pose.create("mediapipe")(it.frames), it.keypoints

    def error(a, b, joints):
        return np.linalg.norm(a[:, list(joints), :2] - b[:, list(joints), :2], axis=-1)

    assert np.median(error(kp, gt, K.FACE)) < 4
    assert np.median(error(kp, gt, [0, 1, 2, 5])) < 15  # nose, neck, shoulders
    both = (kp[:, list(K.LEFT_HAND), 2] > 0).all(1) & (kp[:, list(K.RIGHT_HAND), 2] > 0).all(1)
    assert both.sum() >= len(kp) // 2
    for mine, same, other in ((K.LEFT_HAND, K.LEFT_HAND, K.RIGHT_HAND), (K.RIGHT_HAND, K.RIGHT_HAND, K.LEFT_HAND)):
        right_side = np.median(np.linalg.norm(kp[both][:, list(mine), :2] - gt[both][:, list(same), :2], axis=-1))
        swapped = np.median(np.linalg.norm(kp[both][:, list(mine), :2] - gt[both][:, list(other), :2], axis=-1))
        assert right_side < 12 and right_side < swapped / 2
