"""Motion masks (paper Algorithm 1) and their stage-2 preprocessing."""

import numpy as np
import pytest

from mmgt import keypoints as K
from mmgt.masks import (
    MaskConfig, box_masks, expand_boxes, mask_frames, minmax_per_frame, motion_masks, region_boxes, soft_mask,
    stage2_masks, write_mask_video,
)
from mmgt.video_io import read_video

SIZE = (64, 48)  # (w, h)


def moving_figure(n_frames: int = 6, seed: int = 0) -> np.ndarray:
    """Keypoints with a face, two hands and a body at separate places that drift over time."""
    rng = np.random.default_rng(seed)
    kp = np.zeros((n_frames, K.NUM_JOINTS, 3), dtype=np.float32)
    centres = {K.FACE: (32, 8), K.LEFT_HAND: (10, 36), K.RIGHT_HAND: (54, 36), K.UPPER_BODY: (32, 30)}
    for joints, (cx, cy) in centres.items():
        spread = 10 if joints == K.UPPER_BODY else 4
        drift = np.arange(n_frames)[:, None] * np.array([1.0, 0.5])
        kp[:, joints, :2] = (cx, cy) + drift[:, None] + rng.uniform(-spread, spread, (n_frames, len(joints), 2))
        kp[:, joints, 2] = 0.9
    return kp


def test_boxes_are_the_bounding_boxes_of_the_valid_joints():
    kp = np.zeros((3, K.NUM_JOINTS, 3), dtype=np.float32)
    lh = K.LEFT_HAND
    kp[0, lh[:3]] = [(10, 20, 0.9), (14.5, 12, 0.8), (12, 25.5, 0.5)]
    kp[0, lh[3]] = (60, 1, 0.1)  # invalid: ignored however far away
    kp[1, lh[5]] = (7, 8, 1.0)  # a single valid joint: a point box
    kp[2, lh] = (30, 30, 0.2)  # no valid joint: no box
    boxes = region_boxes(kp, lh)
    np.testing.assert_array_equal(boxes[0], [10, 12, 14.5, 25.5])
    np.testing.assert_array_equal(boxes[1], [7, 8, 7, 8])
    assert np.isnan(boxes[2]).all()
    masks = box_masks(boxes, SIZE)
    assert masks.shape == (3, 48, 64)
    assert masks[0].sum() == (25 - 12 + 1) * (14 - 10 + 1) and masks[0][12:26, 10:15].all()
    assert masks[1].sum() == 1 and masks[1][8, 7]
    assert not masks[2].any()


def test_box_covers_the_pixels_of_its_truncated_corners():
    mask = box_masks(np.array([[2.5, 3.2, 5.9, 4.0]]), (10, 8))[0]
    expected = np.zeros((8, 10), dtype=bool)
    expected[3:5, 2:6] = True
    np.testing.assert_array_equal(mask, expected)


def test_margin_expands_about_the_centre_and_clips_to_the_frame():
    boxes = np.array([[20.0, 20.0, 30.0, 24.0], [10.0, 10.0, 20.0, 30.0], [70.0, 5.0, 80.0, 9.0], [np.nan] * 4])
    out = expand_boxes(boxes, 2.0, SIZE)
    np.testing.assert_array_equal(out[0], [15, 18, 35, 26])  # same centre (25, 22), twice the size
    np.testing.assert_array_equal(out[1], [5, 0, 25, 40])  # y0 = -0 clipped to 0
    assert np.isnan(out[2]).all()  # wholly outside the 64-wide frame: empty
    assert np.isnan(out[3]).all()
    np.testing.assert_array_equal(expand_boxes(boxes[:2], 1.0, SIZE), boxes[:2])  # 1.0 = tight, as the release
    big = expand_boxes(np.array([[0.0, 0.0, 60.0, 40.0]]), 3.0, SIZE)
    np.testing.assert_array_equal(big[0], [0, 0, 63, 47])


def test_margin_in_config_grows_every_mask():
    kp = moving_figure()
    tight, loose = motion_masks(kp, SIZE), motion_masks(kp, SIZE, MaskConfig(margin=1.5))
    for name in ("face", "lips", "left_hand", "right_hand", "body"):
        a, b = getattr(tight, name), getattr(loose, name)
        assert (a <= b).all() and b.sum() > a.sum()


def test_face_hands_and_background_are_exact_complements():
    masks = motion_masks(moving_figure(), SIZE)
    fh = masks.face | masks.left_hand | masks.right_hand
    np.testing.assert_array_equal(masks.face_hands, fh)
    np.testing.assert_array_equal(masks.background, ~fh)
    assert fh.any() and masks.background.any()
    assert (masks.lips <= masks.face).all()  # lips joints are face joints


def test_masks_move_with_the_keypoints_and_still_mask_is_the_union():
    masks = motion_masks(moving_figure(), SIZE)
    assert not np.array_equal(masks.face[0], masks.face[-1])
    still = masks.still()
    for name in ("face", "lips", "left_hand", "right_hand", "body"):
        union = getattr(masks, name).any(0)
        assert getattr(still, name).shape == getattr(masks, name).shape
        assert all(np.array_equal(frame, union) for frame in getattr(still, name))
    np.testing.assert_array_equal(still.background, ~(still.face | still.left_hand | still.right_hand))


def test_invisible_region_gives_empty_masks():
    kp = moving_figure()
    kp[2:4, K.RIGHT_HAND, 2] = 0.0
    masks = motion_masks(kp, SIZE)
    assert not masks.right_hand[2:4].any()
    assert masks.right_hand[[0, 1, 4, 5]].any(axis=(1, 2)).all()


def test_minmax_keeps_empty_frames_empty_and_full_frames_full_without_nan():
    frames = np.zeros((3, 5, 5), dtype=np.float32)
    frames[1, 1:3, 1:4] = 0.4
    frames[2] = 0.7
    out = minmax_per_frame(frames)
    assert np.isfinite(out).all()
    assert not out[0].any()
    assert out[1].min() == 0 and out[1].max() == 1
    assert (out[2] == 1).all()


def test_soft_mask_of_an_empty_frame_stays_zero():
    mask = np.zeros((3, 48, 64), dtype=bool)
    mask[1, 10:20, 30:40] = True
    mask[2] = True
    soft = soft_mask(mask, 21, (32, 32))
    assert soft.shape == (3, 32, 32) and soft.dtype == np.float32 and np.isfinite(soft).all()
    assert not soft[0].any()
    assert soft[1].max() == pytest.approx(1.0) and soft[1].min() == 0.0
    assert 0 < soft[1, 10, 12] < soft[1, 10, 17]  # blurred: non-zero just outside the box, higher inside
    assert (soft[2] == 1).all()


def test_stage2_masks_are_resized_to_every_level():
    masks = motion_masks(moving_figure(), SIZE)
    levels = ((24, 32), (12, 16), (6, 8), (3, 4))
    out = stage2_masks(masks, MaskConfig(work_size=(48, 64), levels=levels))
    for arrays in (out.face_hands, out.lips, out.background):
        assert [a.shape for a in arrays] == [(6, *lv) for lv in levels]
        assert all(np.isfinite(a).all() and a.min() >= 0 and a.max() <= 1 for a in arrays)
    for fh, bg in zip(out.face_hands, out.background):
        np.testing.assert_allclose(bg, 1 - fh, atol=1e-6)
    default = stage2_masks(masks)
    assert [a.shape[1:] for a in default.lips] == [(32, 32), (16, 16), (8, 8), (4, 4)]


def test_mask_config_rejects_even_kernels_and_non_positive_margins():
    with pytest.raises(ValueError, match="odd"):
        MaskConfig(blur_lips=20)
    with pytest.raises(ValueError, match="margin"):
        MaskConfig(margin=0)


def test_mask_video_round_trip(tmp_path):
    masks = motion_masks(moving_figure(n_frames=4), SIZE)
    frames = mask_frames(masks.face_hands)
    assert frames.shape == (4, 48, 64, 3) and set(np.unique(frames)) <= {0, 255}
    path = write_mask_video(tmp_path / "fh.mp4", masks.face_hands)
    decoded = read_video(path, expect_frames=4)[..., 0] >= 128
    assert (decoded != masks.face_hands).mean() < 0.01  # H.264 is lossy only at box edges
