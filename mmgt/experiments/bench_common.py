"""What the speed benchmarks share: cases in fresh interpreters (a clean peak memory each), the
machine description, and the report file (with the code commit)."""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
from pathlib import Path

import torch

from mmgt.provenance import git_info
from mmgt.video_io import atomic_path


def run_isolated(module: str, args: list[str]) -> dict:
    """Run ``python -m module *args`` and parse the JSON of its last stdout line; its error line if it fails."""
    proc = subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"{module} {args} failed")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def peak_rss_mib() -> float:
    """This process's peak resident memory."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def machine() -> dict:
    return {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "torch": torch.__version__,
            "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None}


def write_report(out: Path, name: str, report: dict) -> Path:
    """``out/name`` with the machine and code commit added; returns its path."""
    path = out / name
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps({**report, "machine": machine(), "code": git_info()}, indent=2) + "\n")
    print(path)
    return path


def summary(r: dict, label: str) -> str:
    """One stderr line per case."""
    return (f"{label}: {r['seconds_per_video_second']:.1f} s per video second, peak {r['peak_rss_mib']:.0f} MiB "
            f"(load {r['load_average_1min_at_start']})")
