"""``make bench-pats``: PATS from links to a prepared split on the stand-in, step by step, and what a
rerun costs. The stand-in (:mod:`mmgt.data.synth.pats_standin`) is served on 127.0.0.1; each step
runs the ``mmgt`` command as a user would: download-pats, prepare-pats (``--ids`` split file), then
both again, which must find everything done (prepare: under a fifth of the first run's time).
Reported per step: seconds, disk use, counts (videos, intervals, clips per speaker).

    python -m mmgt.experiments.bench_pats --out results/bench [--split all] [--extractor mediapipe]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from mmgt.data.layout import read_manifest
from mmgt.data.synth.pats_standin import SOURCES, StandInConfig, write_sources, write_tables
from mmgt.experiments.bench_common import write_report

TARGET_FRACTION = 0.2  # a rerun of prepare-pats over a finished split, against the first run (issue 25)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # noqa: D102 (quiet)
        pass


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):  # yt-dlp's first look closes the connection early
        pass


def disk_mib(folder: Path) -> float:
    return round(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20, 1)


def step(*args: str) -> tuple[float, int, str]:
    """Run ``mmgt *args``; ``(seconds, exit status, last output line)``."""
    start = time.perf_counter()
    proc = subprocess.run([str(Path(sys.executable).parent / "mmgt"), *args], capture_output=True, text=True)
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    return time.perf_counter() - start, proc.returncode, lines[0] if lines else ""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/bench"))
    parser.add_argument("--split", default="all", help="the split to prepare: train, dev, test or all")
    parser.add_argument("--extractor", default="mediapipe")
    parser.add_argument("--videos-per-speaker", type=int, default=StandInConfig.videos_per_speaker)
    parser.add_argument("--video-seconds", type=float, default=StandInConfig.video_seconds)
    args = parser.parse_args(argv)
    standin = StandInConfig(args.videos_per_speaker, args.video_seconds)
    report: dict = {"benchmark": "PATS stand-in: download-pats and prepare-pats, then both rerun",
                    "standin": asdict(standin),
                    "split": args.split, "extractor": args.extractor}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        sources = write_sources(work / SOURCES, standin)
        report["standin_seconds"] = round(time.perf_counter() - started, 1)
        server = _QuietServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(work / SOURCES)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            table, split_file = write_tables(work, f"http://127.0.0.1:{server.server_address[1]}", standin)
            chosen = ["--intervals", str(table), "--ids", str(split_file), "--split", args.split]
            download = ["data", "download-pats", *chosen, "--out", str(work / "raw"), "--no-progress"]
            prepare = ["data", "prepare-pats", *chosen, "--videos", str(work / "raw"), "--out", str(work / "split"),
                       "--extractor", args.extractor, "--no-progress"]
            steps = {"download": download, "prepare": prepare, "download_rerun": download, "prepare_rerun": prepare}
            for name, command in steps.items():
                seconds, status, line = step(*command)
                report[name] = {"seconds": round(seconds, 2), "exit_status": status, "said": line}
                print(f"{name}: {seconds:.1f} s (exit {status}) {line}", file=sys.stderr)
        finally:
            server.shutdown()
            server.server_close()
        records = read_manifest(work / "split" / "manifest.csv")
        summary = json.loads((work / "split" / "summary.json").read_text())["counts"]
        report["counts"] = {"source_videos": len(sources), "intervals_prepared": summary["intervals_prepared"],
                            "intervals_reused_by_rerun": summary["intervals_reused"],
                            "clips_per_speaker": dict(Counter(r.speaker for r in records))}
        report["disk_mib"] = {"sources": disk_mib(work / SOURCES), "raw": disk_mib(work / "raw"),
                              "split": disk_mib(work / "split")}
    fraction = report["prepare_rerun"]["seconds"] / report["prepare"]["seconds"]
    report |= {"prepare_rerun_fraction": round(fraction, 3), "target_fraction": TARGET_FRACTION,
               "meets_target": fraction <= TARGET_FRACTION}
    write_report(args.out, "pats.json", report)


if __name__ == "__main__":
    main()
