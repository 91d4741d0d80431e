"""Pose extractors returning the 134-joint DWPose layout (see :mod:`mmgt.pose.base`).

Built-in names: ``dwpose`` (ONNX models through onnxruntime, weights from :mod:`mmgt.weights`)
and ``mediapipe`` (MediaPipe Holistic, models shipped with the package). Both import their
runtimes only when built.
"""

from __future__ import annotations

from mmgt.pose.base import PoseExtractor, available, create, factory, register, unregister, zero_joints


def _dwpose() -> PoseExtractor:
    from mmgt.pose.dwpose import DWPose

    return DWPose.from_weights()


def _mediapipe() -> PoseExtractor:
    from mmgt.pose.mediapipe_holistic import MediaPipeHolistic

    return MediaPipeHolistic()


register("dwpose", _dwpose)
register("mediapipe", _mediapipe)

__all__ = ["PoseExtractor", "available", "create", "factory", "register", "unregister", "zero_joints"]
