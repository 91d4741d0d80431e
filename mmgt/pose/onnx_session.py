"""The slice of ``onnxruntime.InferenceSession`` the pose models use, and how sessions are opened."""

from __future__ import annotations

import warnings
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


GPU_MARKERS = ("/proc/driver/nvidia/gpus", "/dev/nvidia0")  # an NVIDIA driver with a GPU on this machine
CUDA, CPU = "CUDAExecutionProvider", "CPUExecutionProvider"


def gpu_present() -> bool:
    return any(Path(marker).exists() for marker in GPU_MARKERS)


def open_session(path: str | Path) -> OnnxSession:
    """An onnxruntime session on CUDA when onnxruntime-gpu is installed (``mmgt-bench[gpu]``), else CPU.

    On a machine with a GPU, running on the CPU warns once with the way out. A file onnxruntime
    cannot load raises ``DataError`` naming it.
    """
    import onnxruntime as ort

    providers = [p for p in (CUDA, CPU) if p in ort.get_available_providers()]
    try:
        session = ort.InferenceSession(str(path), providers=providers)
    except Exception as exc:  # onnxruntime raises its own pybind types (InvalidProtobuf, Fail, ...)
        raise DataError(path, f"not a loadable ONNX model ({type(exc).__name__})") from None
    if CUDA not in session.get_providers() and gpu_present():
        why = ("its CUDA provider did not start (CUDA or cuDNN libraries missing?)" if CUDA in providers
               else "this onnxruntime has no CUDA provider; replace it: pip uninstall -y onnxruntime, "
                    "then pip install 'mmgt-bench[gpu]' (onnxruntime-gpu)")
        warnings.warn(f"ONNX pose models run on the CPU although this machine has a GPU: {why}", RuntimeWarning)
    return session
