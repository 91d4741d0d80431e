"""librosa's cached numba gufuncs survive processes that compile them at the same time (numba#10128)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import numpy as np
from mmgt.features.librosa_baseline import baseline_features
wav = np.random.default_rng(0).standard_normal(16000 * 3).astype(np.float32) * 0.1
print(float(baseline_features(wav, 16000, 80).sum()))
"""


def test_concurrent_first_use_from_an_empty_numba_cache(tmp_path: Path) -> None:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    procs = [
        subprocess.Popen([sys.executable, "-c", SCRIPT], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [err[-500:] for _, err in outs]
    assert len({out for out, _ in outs}) == 1
    assert any((tmp_path / "numba").rglob("guf-*.nbc"))  # the gufunc caches were really written here
