"""What the speed benchmarks share: cases in fresh interpreters (a clean peak memory each), the
machine description, and the report file (with the code commit)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
from pathlib import Path
from typing import Callable

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


def run_video_cases(argv: list[str] | None, doc: str, module: str, kind: str, names: tuple[str, ...],
                    time_case: Callable[..., dict], setups: list[tuple[str, str]]) -> tuple[argparse.Namespace, list[dict]] | None:
    """The command line of a video-generation benchmark: ``--data``, ``--out``, ``--<kind>s``, ``--threads``.

    Every (preset, device) of ``setups`` x name x thread count runs ``time_case(name, preset, threads,
    data, device)`` in a fresh interpreter of ``module`` (the hidden ``--case`` option); returns the
    options and the cases, or None when this process was such a case (its JSON printed).
    """
    parser = argparse.ArgumentParser(description=" ".join(doc.split("\n\n")[0].split()))
    parser.add_argument("--data", type=Path, default=Path("data/synth"), help="split root whose first test clip is rendered")
    parser.add_argument("--out", type=Path, default=Path("results/bench"), help="folder of the JSON report")
    parser.add_argument(f"--{kind}s", dest="names", default=",".join(names), help=f"comma-separated {kind}s")
    parser.add_argument("--threads", default="2", help="comma-separated torch thread counts")
    parser.add_argument("--case", nargs=4, metavar=(kind.upper(), "PRESET", "THREADS", "DEVICE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.case:
        name, preset, threads, device = args.case
        print(json.dumps(time_case(name, preset, int(threads), args.data, device)))
        return None
    cases = []
    for preset, device in setups:
        for name in args.names.split(","):
            for threads in args.threads.split(","):
                r = run_isolated(module, ["--case", name, preset, threads, device, "--data", str(args.data)])
                print(summary(r, f"{name:20s} {preset} {device} threads={threads}"), file=sys.stderr)
                cases.append(r)
    return args, cases
