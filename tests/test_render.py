"""Pose renderer: DWPose/ControlNet colours, validity, lower body never drawn."""

import numpy as np
import pytest

from mmgt import keypoints as K
from mmgt.render import (
    BODY_COLOURS, HAND_EDGE_COLOURS, HAND_JOINT_COLOUR, LIMB_COLOURS, RenderConfig, render_pose, render_pose_video,
)

SIZE = (128, 96)  # (w, h)


def blank() -> np.ndarray:
    return np.zeros((K.NUM_JOINTS, 3), dtype=np.float32)


def put(kp: np.ndarray, joint: int, x: float, y: float, score: float = 1.0) -> None:
    kp[joint] = (x, y, score)


def test_all_invalid_keypoints_draw_nothing():
    rng = np.random.default_rng(0)
    kp = np.concatenate([rng.uniform(0, 96, (5, K.NUM_JOINTS, 2)), rng.uniform(0, 0.3, (5, K.NUM_JOINTS, 1))], -1)
    video = render_pose_video(kp, SIZE)
    assert video.shape == (5, 96, 128, 3) and video.dtype == np.uint8
    assert not video.any()


def test_limb_is_drawn_between_its_joints_in_its_dimmed_colour():
    kp = blank()
    put(kp, 1, 30, 40)  # neck
    put(kp, 2, 90, 40)  # right shoulder
    img = render_pose(kp, SIZE)
    dimmed = tuple(int(c * 0.6) for c in LIMB_COLOURS[K.LIMBS.index((1, 2))])
    assert tuple(img[40, 60]) == dimmed  # middle of the limb
    assert tuple(img[40, 30]) == BODY_COLOURS[1]  # neck disc drawn on top, undimmed
    assert tuple(img[40, 90]) == BODY_COLOURS[2]
    assert not img[60:].any() and not img[:30].any()  # nothing far from the limb


def test_joint_below_threshold_skips_it_and_its_limbs():
    kp = blank()
    put(kp, 1, 30, 40)
    put(kp, 2, 90, 40, score=0.29)
    img = render_pose(kp, SIZE)
    assert not img[:, 45:].any()  # neither the shoulder nor the limb
    assert tuple(img[40, 30]) == BODY_COLOURS[1]
    assert render_pose(kp, SIZE, RenderConfig(threshold=0.2))[40, 60].any()  # visible with a lower threshold


def test_non_finite_coordinates_are_skipped():
    kp = blank()
    put(kp, 1, 30, 40)
    put(kp, 2, np.nan, 40)
    img = render_pose(kp, SIZE)
    assert tuple(img[40, 30]) == BODY_COLOURS[1] and not img[:, 45:].any()


def test_lower_body_and_feet_are_never_drawn():
    kp = blank()
    for j, (x, y) in zip((8, 9, 10, 11, 12, 13), ((20, 10), (20, 50), (20, 90), (100, 10), (100, 50), (100, 90))):
        put(kp, j, x, y)
    for j in K.FEET:
        put(kp, j, 60, 80)
    img = render_pose(kp, SIZE)
    assert tuple(img[10, 20]) == BODY_COLOURS[8] and tuple(img[10, 100]) == BODY_COLOURS[11]  # hips are drawn
    assert not img[30:].any()  # knees, ankles, shins and feet are not


def test_hand_edges_are_coloured_by_hsv_per_edge_and_joints_blue():
    kp = blank()
    wrist = K.LEFT_HAND[0]
    put(kp, wrist, 20, 20)
    put(kp, wrist + 1, 100, 20)  # thumb joint: edge 0
    put(kp, wrist + 5, 20, 80)  # index root: edge 4
    img = render_pose(kp, SIZE)
    assert tuple(img[20, 60]) == HAND_EDGE_COLOURS[0] == (255, 0, 0)
    assert tuple(img[50, 20]) == HAND_EDGE_COLOURS[4]
    assert HAND_EDGE_COLOURS[4] != HAND_EDGE_COLOURS[0]
    assert tuple(img[20, 20]) == HAND_JOINT_COLOUR
    assert len(set(HAND_EDGE_COLOURS)) == len(K.HAND_EDGES)


def test_face_landmarks_are_white_dots():
    kp = blank()
    put(kp, K.LIPS[0], 64, 48)
    img = render_pose(kp, SIZE)
    assert tuple(img[48, 64]) == (255, 255, 255)
    assert img.any(-1).sum() < 30  # a dot, nothing else


def test_line_thickness_scales_with_frame_size():
    def limb_pixels(side: int) -> int:
        kp = blank()
        put(kp, 2, side * 0.2, side * 0.5)
        put(kp, 3, side * 0.8, side * 0.5)
        column = render_pose(kp, (side, side))[:, side // 2]
        return int(column.any(-1).sum())

    assert limb_pixels(128) < limb_pixels(512) < limb_pixels(1024)


def test_render_pose_is_one_frame_of_the_video():
    rng = np.random.default_rng(1)
    kp = np.concatenate([rng.uniform(0, 96, (3, K.NUM_JOINTS, 2)), rng.uniform(0, 1, (3, K.NUM_JOINTS, 1))], -1)
    video = render_pose_video(kp, SIZE)
    assert np.array_equal(render_pose(kp[1], SIZE), video[1])
    with pytest.raises(ValueError):
        render_pose(kp, SIZE)
    with pytest.raises(ValueError):
        render_pose_video(kp[:, :100], SIZE)


def test_eighty_frames_all_drawn():
    rng = np.random.default_rng(2)
    kp = np.concatenate([rng.uniform(0, 256, (80, K.NUM_JOINTS, 2)), np.ones((80, K.NUM_JOINTS, 1))], -1)
    video = render_pose_video(kp, (256, 256))
    assert video.shape == (80, 256, 256, 3) and video.any(axis=(1, 2, 3)).all()
