"""Silence what native libraries (MediaPipe's TFLite/absl graph) write straight to the process's stderr.

MediaPipe prints ``W0000 ... inference_feedback_manager`` and ``Created TensorFlow Lite XNNPACK
delegate`` lines from C++ on file descriptor 2, past Python's ``sys.stderr``; a run's stderr should
show progress, this project's warnings and the summary only. ``MMGT_DEBUG`` set keeps them.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """File descriptor 2 points at /dev/null inside the block (Python's own stderr is flushed first)."""
    if os.environ.get("MMGT_DEBUG"):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
