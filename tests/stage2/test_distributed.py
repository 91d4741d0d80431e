"""`accelerate launch` with 2 processes trains a step (CPU here; the same command uses N GPUs)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import SMALL

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_two_process_launch_trains_and_checkpoints_every_rank(trained, tiny_split, tmp_path):
    accelerate = Path(sys.executable).parent / "accelerate"
    sets = [arg for s in SMALL for arg in ("--set", s)]
    # accelerate 1.x: `--cpu` always starts one process; `--multi_gpu` on a CPU-only host runs gloo over N processes
    cmd = [str(accelerate), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
           "--dynamo_backend", "no", "-m", "mmgt.cli", "train", "stage2", "--step", "image", "--data", str(tiny_split),
           "--out", str(tmp_path), "--vae", str(trained["vae"]), "--steps", "1", "--no-progress",
           "--cache-dir", str(tmp_path / "cache"), *sets]
    env = os.environ | {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    ckpt = tmp_path / "image" / "checkpoints" / "step-000001"
    assert {p.name for p in ckpt.glob("random_states_*.pkl")} == {"random_states_0.pkl", "random_states_1.pkl"}
    assert (tmp_path / "image" / "model" / "stage2.json").is_file()
