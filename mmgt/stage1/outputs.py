"""What ``mmgt pose`` reads and writes: the reference pose, and the pose/mask videos for stage 2.

Output folder::

    OUT/
      keypoints.npy            (T, 134, 3) float32 pixel keypoints at 25 fps
      pose.mp4                 rendered pose video, the speech muxed in
      mask_face_hands.mp4      M_fh (face + both hands), per frame (paper Algorithm 1)
      mask_lips.mp4            M_lip
      mask_background.mp4      M_bg = 1 - M_fh
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mmgt.data.layout import load_keypoints
from mmgt.masks import motion_masks, write_mask_video
from mmgt.render import render_pose_video
from mmgt.video_io import FPS, SAMPLE_RATE, atomic_path, read_audio, write_video


def reference_pose(image: np.ndarray, keypoints: Path | None = None, extractor: str = "dwpose") -> np.ndarray:
    """``(134, 3)`` pixel pose of the reference image: frame 0 of a ``(T, 134, 3)`` keypoint file
    (one pose is saved as ``(1, 134, 3)``), or the pose extractor run on the image."""
    if keypoints is not None:
        return load_keypoints(keypoints)[0]
    from mmgt.pose import create

    return create(extractor)(image[None])[0]


def write_outputs(out: Path, kp: np.ndarray, size: tuple[int, int], wav_path: Path) -> dict[str, Path]:
    """Write keypoints, the pose video (with the speech) and the motion-mask videos."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"keypoints": out / "keypoints.npy", "pose": out / "pose.mp4"}
    with atomic_path(paths["keypoints"]) as tmp:
        np.save(tmp, kp.astype(np.float32))
    audio = read_audio(wav_path, SAMPLE_RATE)[: round(len(kp) / FPS * SAMPLE_RATE)]
    write_video(paths["pose"], render_pose_video(kp, size), fps=FPS, audio=audio, sample_rate=SAMPLE_RATE)
    masks = motion_masks(kp, size)
    for name, mask in (("face_hands", masks.face_hands), ("lips", masks.lips), ("background", masks.background)):
        paths[f"mask_{name}"] = write_mask_video(out / f"mask_{name}.mp4", mask)
    return paths
