"""The half-body papers' metrics in the evaluation loop: what each clip contributes and how it is folded.

Per clip (keys of the contribution):

* ``motion/keypoints/{pred,gt}``: ``(T, 134, 3)`` keypoints for jitter and beat alignment, from the same
  source as FGD's (the method's files when every prediction has them, else the protocol's extractor on
  both sides' frames; :meth:`eval.harness.Evaluator.motion_keypoints`);
* ``audio/onsets``: the audio's onset frames (:mod:`eval.extractors.onsets`) for beat alignment;
* ``hands/dwpose/{pred,gt}``: DWPose keypoints of each video for ``hkc`` (``hkc_mp`` reads the holistic
  landmarks the landmark metrics already have);
* ``identity/<metric>/{pred,gt}``: per-frame face embeddings for ``csim`` / ``csim_dlib``; GT's frame 0
  (the reference image the method was given) is the reference.
"""

from __future__ import annotations

import numpy as np

from eval.extractors.onsets import audio_onsets
from eval.metrics import Metric
from eval.metrics.hands import hands_from_holistic, hands_from_keypoints
from mmgt.video_io import SAMPLE_RATE

MOTION_METRICS = ("jitter", "beat_align")
IDENTITY_METRICS = ("csim_dlib", "csim")


def onsets_contribution(audio: np.ndarray, n_frames: int) -> dict[str, np.ndarray]:
    return {"audio/onsets": audio_onsets(audio, SAMPLE_RATE, n_frames)}


def fold(metric: Metric, name: str, c: dict[str, np.ndarray], clip_id: str) -> None:
    """Add one clip's contribution ``c`` to the state of human metric ``name``."""
    if name == "jitter":
        metric.update(clip_id, c["motion/keypoints/pred"], c["motion/keypoints/gt"])
    elif name == "beat_align":
        metric.update(clip_id, c["motion/keypoints/pred"], c["motion/keypoints/gt"], c["audio/onsets"])
    elif name == "hkc_mp":
        metric.update(clip_id, *(hands_from_holistic(c[f"landmarks/holistic/{s}"]) for s in ("pred", "gt")))
    elif name == "hkc":
        metric.update(clip_id, *(hands_from_keypoints(c[f"hands/dwpose/{s}"]) for s in ("pred", "gt")))
    elif name in IDENTITY_METRICS:
        gt = c[f"identity/{name}/gt"]
        metric.update(clip_id, gt[0], c[f"identity/{name}/pred"], gt)
