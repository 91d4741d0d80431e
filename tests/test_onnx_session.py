"""ONNX sessions: CUDA when onnxruntime-gpu offers it, CPU otherwise, with a warning on a GPU machine."""

from __future__ import annotations

import warnings

import onnxruntime
import pytest

from mmgt.pose import onnx_session
from mmgt.pose.onnx_session import CPU, CUDA, open_session


def _fake_runtime(monkeypatch, available: list[str], started: list[str], gpu: bool) -> list[list[str]]:
    asked: list[list[str]] = []

    class Session:
        def __init__(self, path, providers):
            asked.append(list(providers))

        def get_providers(self):
            return started

    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: available)
    monkeypatch.setattr(onnxruntime, "InferenceSession", Session)
    monkeypatch.setattr(onnx_session, "gpu_present", lambda: gpu)
    return asked


@pytest.mark.parametrize("available, started, gpu, warning", [
    ([CPU], [CPU], True, "mmgt-bench[gpu]"),  # the CPU build on a GPU machine
    ([CUDA, CPU], [CPU], True, "did not start"),  # onnxruntime-gpu without its CUDA libraries
    ([CUDA, CPU], [CUDA, CPU], True, None),
    ([CPU], [CPU], False, None),  # no GPU: the CPU is the right place, no warning
])
def test_provider_choice_and_fallback_warning(monkeypatch, tmp_path, available, started, gpu, warning):
    asked = _fake_runtime(monkeypatch, available, started, gpu)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        open_session(tmp_path / "model.onnx")
    assert asked == [[p for p in (CUDA, CPU) if p in available]]
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert (messages == []) if warning is None else (len(messages) == 1 and warning in messages[0])
