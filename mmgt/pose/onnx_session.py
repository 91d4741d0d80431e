"""The slice of ``onnxruntime.InferenceSession`` the pose models use, and how sessions are opened."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from mmgt.errors import DataError


class OnnxSession(Protocol):
    """What DWPose needs from a session: input names and ``run``."""

    def get_inputs(self) -> Sequence: ...

    def run(self, output_names: list[str] | None, feeds: dict[str, np.ndarray]) -> list[np.ndarray]: ...


def run_single(session: OnnxSession, batch: np.ndarray) -> list[np.ndarray]:
    """Run a one-input model on ``batch`` and return all its outputs."""
    return session.run(None, {session.get_inputs()[0].name: batch.astype(np.float32, copy=False)})


def open_session(path: str | Path) -> OnnxSession:
    """An onnxruntime session on the best available provider (CUDA when present, else CPU).

    A file onnxruntime cannot load raises ``DataError`` naming it.
    """
    import onnxruntime as ort

    preferred = ("CUDAExecutionProvider", "CPUExecutionProvider")
    providers = [p for p in preferred if p in ort.get_available_providers()]
    try:
        return ort.InferenceSession(str(path), providers=providers)
    except Exception as exc:  # onnxruntime raises its own pybind types (InvalidProtobuf, Fail, ...)
        raise DataError(path, f"not a loadable ONNX model ({type(exc).__name__})") from None
