"""MTCNN face boxes (weights ship inside the PyPI package ``facenet-pytorch``): the face-track
fallback when the ground truth has no keypoints."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch


class MTCNNFaceDetector:
    """Per-frame ``(x0, y0, x1, y1)`` of the most confident face, or None (real, shipped weights)."""

    name = "mtcnn"
    untrained = False

    def __init__(self, device: str | torch.device = "cpu", min_face_size: int = 20, batch_size: int = 16):
        from facenet_pytorch import MTCNN

        self.model = MTCNN(keep_all=False, select_largest=False, min_face_size=min_face_size, device=device)
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


def _package_weights_sha() -> str:
    """sha256 over the three network files shipped in facenet-pytorch (pnet, rnet, onet)."""
    import facenet_pytorch

    data = Path(facenet_pytorch.__file__).parent / "data"
    h = hashlib.sha256()
    for name in ("pnet.pt", "rnet.pt", "onet.pt"):
        h.update((data / name).read_bytes())
    return h.hexdigest()
