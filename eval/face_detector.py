"""Per-frame face boxes for face tracks: MTCNN (weights shipped in the PyPI package ``facenet-pytorch``),
the fallback when the ground truth has no keypoints, and S3FD as joonson/syncnet_python's pipeline runs
it (``sfd_face.pth``, :mod:`eval.extractors.s3fd`).

Every detector is called as ``detector(frames)`` on ``(T, H, W, 3)`` uint8 RGB frames and returns, per
frame, the ``(x0, y0, x1, y1)`` float64 box of the most confident face or None; it has ``name``,
``weights`` (sha256 of its weights, or ``"random-init"``), ``untrained`` and ``provenance()``.
This module imports no torch, so the CLI can read :class:`S3FDSettings`' defaults cheaply.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol as Interface

import numpy as np

if TYPE_CHECKING:
    import torch

    from eval.extractors.s3fd import S3FDExtractor


class FaceDetector(Interface):
    """What the face tracks need from a detector."""

    name: str
    weights: str
    untrained: bool

    def __call__(self, frames: np.ndarray) -> list[np.ndarray | None]: ...

    def provenance(self) -> dict: ...


class MTCNNFaceDetector:
    """Per-frame ``(x0, y0, x1, y1)`` of the most confident face, or None (real, shipped weights)."""

    name = "mtcnn"
    untrained = False

    def __init__(self, device: str | torch.device = "cpu", min_face_size: int = 20, batch_size: int = 16):
        from facenet_pytorch import MTCNN

        self.model = MTCNN(keep_all=False, select_largest=False, min_face_size=min_face_size, device=device)
        self.min_face_size = min_face_size
        self.batch_size = batch_size
        self.weights = _package_weights_sha()

    def __call__(self, frames: np.ndarray) -> list[np.ndarray | None]:
        out: list[np.ndarray | None] = []
        for start in range(0, len(frames), self.batch_size):
            batch = [f for f in frames[start : start + self.batch_size]]
            boxes, probs = self.model.detect(batch)
            for b, p in zip(boxes, probs):
                out.append(None if b is None or p is None or p[0] is None else np.asarray(b[0], np.float64))
        return out

    def provenance(self) -> dict:
        return {"detector": self.name, "weights": self.weights, "untrained": self.untrained,
                "settings": {"min_face_size": self.min_face_size}}


def _package_weights_sha() -> str:
    """sha256 over the three network files shipped in facenet-pytorch (pnet, rnet, onet)."""
    import facenet_pytorch

    data = Path(facenet_pytorch.__file__).parent / "data"
    h = hashlib.sha256()
    for name in ("pnet.pt", "rnet.pt", "onet.pt"):
        h.update((data / name).read_bytes())
    return h.hexdigest()


@dataclass(frozen=True)
class S3FDSettings:
    """S3FD's settings; the defaults are those of syncnet_python's ``run_pipeline.py``."""

    scale: float = 0.25  # --facedet_scale: frames are resized by this before detection
    conf_threshold: float = 0.9  # inference_video's detect_faces(conf_th=0.9)


class S3FDFaceDetector:
    """S3FD (``sfd_face.pth``) as syncnet_python's pipeline runs it: the most confident face per frame.

    ``extractor`` comes from ``eval.extractors.create("s3fd", ...)``: real weights, or (only with
    ``allow_untrained``) a seeded random init, whose ``weights`` is ``"random-init"``.
    """

    name = "s3fd"

    def __init__(self, extractor: S3FDExtractor, settings: S3FDSettings | None = None, batch_size: int = 16):
        self.extractor = extractor
        self.settings = settings or S3FDSettings()
        self.batch_size = batch_size
        self.weights = extractor.weights

    @property
    def untrained(self) -> bool:
        return self.extractor.untrained

    def detections(self, frames: np.ndarray) -> list[np.ndarray]:
        """Every face of each frame: ``(n, 5)`` float64 (x0, y0, x1, y1, score), most confident first."""
        out: list[np.ndarray] = []
        for start in range(0, len(frames), self.batch_size):
            out += self.extractor.detect_faces(frames[start : start + self.batch_size], self.settings.scale,
                                               self.settings.conf_threshold)
        return out

    def __call__(self, frames: np.ndarray) -> list[np.ndarray | None]:
        return [found[0, :4] if len(found) else None for found in self.detections(frames)]

    def provenance(self) -> dict:
        network = {k: v for k, v in self.extractor.provenance().items() if k != "extractor"}
        return {"detector": self.name, **network, "settings": asdict(self.settings)}


BOX_DETECTORS = ("mtcnn", "s3fd")  # the box detectors ExtractorSet.face_detector builds
