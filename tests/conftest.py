"""Shared fixtures: a tiny synthetic split and method outputs on it (built once per session)."""

from __future__ import annotations

import atexit
import os
import tempfile
from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)

# No test's outcome depends on which trained checkpoints are committed: methods (in-process and in
# subprocesses) see an empty checkpoints folder; tests of the committed files read ROOT/checkpoints.
os.environ["MMGT_CHECKPOINTS"] = tempfile.mkdtemp(prefix="mmgt-no-checkpoints-")
atexit.register(os.rmdir, os.environ["MMGT_CHECKPOINTS"])
# nor on a lab's weights lockfile: tests that lock pass their own
os.environ["MMGT_WEIGHTS_LOCK"] = os.path.join(os.environ["MMGT_CHECKPOINTS"], "no-weights.lock.json")


@pytest.fixture(scope="session")
def tiny_split(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 speakers x (2 train + 1 test) clips of the synthetic generator."""
    from mmgt.data.synth import SynthConfig, generate_split

    root = tmp_path_factory.mktemp("tiny_split")
    generate_split(root, SynthConfig(speakers=2, train=2, test=1, seed=7, workers=1, clips_per_interval=2), progress=False)
    return root


@pytest.fixture(scope="session")
def method_outputs(tiny_split: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The `gt` and `still` reference methods run on the tiny split's test clips."""
    from mmgt.data.layout import Split
    from mmgt.methods import build_method, run_method

    out = tmp_path_factory.mktemp("methods")
    clips = Split(tiny_split).clips("test")
    return {name: run_method(build_method(name), clips, out / name, progress=False) for name in ("gt", "still")}
