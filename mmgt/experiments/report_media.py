"""The report's media: small previews of each row's clip videos and the clip's speech, in WebM (VP9 and
Opus play in every browser, Chromium builds without H.264 included), so a table's report stays a few MB.

A two-stage row also gets its pose video and face-hands motion mask: the clip folder's ``pose.mp4`` and
``mask_face_hands.mp4`` where the row wrote them (``mmgt generate`` / ``mmgt pose`` layout), else rendered
from the poses the row drove its video with (``keypoints.npy``, which the runner keeps).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from mmgt.data.layout import KEYPOINTS, load_keypoints
from mmgt.video_io import atomic_path, read_video

PREVIEW_SIZE = 128  # pixels, square
PREVIEW_BITRATE = 64_000  # bit/s of each preview video (VP9): ~26 KB for a 3.2 s clip
SPEECH_BITRATE = 24_000  # bit/s of the speech (Opus)
POSE_VIDEO, MASK_VIDEO = "pose.mp4", "mask_face_hands.mp4"


def encode_preview(frames: np.ndarray, path: Path, fps: float, size: int = PREVIEW_SIZE,
                   bitrate: int = PREVIEW_BITRATE) -> Path:
    """``(T, H, W, 3)`` uint8 RGB frames as a ``size`` x ``size`` VP9 WebM at ``bitrate`` bit/s (no audio)."""
    with atomic_path(path) as tmp, av.open(str(tmp), "w", format="webm") as container:
        stream = container.add_stream("libvpx-vp9", rate=Fraction(fps).limit_denominator(1001))
        stream.width = stream.height = size
        stream.pix_fmt, stream.bit_rate = "yuv420p", bitrate
        stream.options = {"deadline": "realtime", "cpu-used": "8", "threads": "1"}
        for frame in frames:
            small = cv2.resize(frame, (size, size), interpolation=cv2.INTER_AREA)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(small, format="rgb24")))
        container.mux(stream.encode())
    return path


def encode_speech(wav: np.ndarray, sample_rate: int, path: Path, bitrate: int = SPEECH_BITRATE) -> Path:
    """Mono float audio as an Opus WebM at ``bitrate`` bit/s."""
    with atomic_path(path) as tmp, av.open(str(tmp), "w", format="webm") as container:
        stream = container.add_stream("libopus", rate=sample_rate)
        stream.layout, stream.bit_rate = "mono", bitrate
        chunk = av.AudioFrame.from_ndarray(np.ascontiguousarray(wav, dtype=np.float32).reshape(1, -1), format="flt", layout="mono")
        chunk.sample_rate = sample_rate
        container.mux(stream.encode(chunk))
        container.mux(stream.encode(None))
    return path


def pose_views(clip_dir: Path, size: tuple[int, int]) -> dict[str, np.ndarray]:
    """``{"pose": frames, "mask": frames}`` of a two-stage row's clip folder (``size``: ``(w, h)`` of its
    video); empty when the folder has neither the videos nor ``keypoints.npy``."""
    from mmgt.masks import mask_frames, motion_masks
    from mmgt.render import render_pose_video

    if (clip_dir / POSE_VIDEO).is_file() and (clip_dir / MASK_VIDEO).is_file():
        return {"pose": read_video(clip_dir / POSE_VIDEO, expect_fps=None),
                "mask": read_video(clip_dir / MASK_VIDEO, expect_fps=None)}
    if not (clip_dir / KEYPOINTS).is_file():
        return {}
    kp = load_keypoints(clip_dir / KEYPOINTS)
    return {"pose": render_pose_video(kp, size), "mask": mask_frames(motion_masks(kp, size).face_hands)}
