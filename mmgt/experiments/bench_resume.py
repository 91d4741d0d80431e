"""``make bench-resume``: what an interrupted evaluation keeps. An all-metrics ``mmgt-eval`` run of the
``still`` row on the split, uninterrupted (cold caches), against the same run interrupted (SIGINT, as
Ctrl-C) halfway through and then rerun: the rerun must give the same values in a fraction of the time.

    python -m mmgt.experiments.bench_resume --data data/synth --out results/bench
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mmgt.experiments.bench_common import write_report

TARGET_FRACTION = 0.6  # the rerun's wall time over the full run's (issue: at most 60%)


def evaluate(pred: Path, gt: Path, work: Path, interrupt_after: float | None = None) -> tuple[float, int, dict | None]:
    """Run mmgt-eval as a user would; ``(seconds, exit status, metric values or None)``."""
    cmd = [str(Path(sys.executable).parent / "mmgt-eval"), "--pred", str(pred), "--gt", str(gt), "--out", str(work / "out"),
           "--cache-dir", str(work / "cache"), "--allow-untrained-extractors", "--no-progress"]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if interrupt_after is not None:
        try:
            proc.wait(timeout=interrupt_after)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGINT)
    proc.wait()
    seconds = time.perf_counter() - start
    runs = sorted((work / "out").glob("*/results.json"))  # each run writes its own folder under --out
    values = None
    if proc.returncode == 0:
        if not runs:
            raise SystemExit(f"mmgt-eval exited 0 but wrote no results.json under {work / 'out'}")
        metrics = json.loads(runs[-1].read_text())["metrics"]
        values = {f"{r}/{o}": e["value"] for r, outs in metrics.items() for o, e in outs.items()}
    return seconds, proc.returncode, values


def still_outputs(data: Path, out: Path) -> Path:
    from mmgt.data.layout import Split
    from mmgt.methods import build_method, run_method

    return run_method(build_method("still"), Split(data).clips("test"), out, progress=False)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/synth"))
    parser.add_argument("--out", type=Path, default=Path("results/bench"))
    parser.add_argument("--at", type=float, default=0.5, help="interrupt after this fraction of the full run's time")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        pred = still_outputs(args.data, tmp / "still")
        full_s, full_rc, full = evaluate(pred, args.data, tmp / "full")
        print(f"full run: {full_s:.0f} s (exit {full_rc})", file=sys.stderr)
        cut_s, cut_rc, _ = evaluate(pred, args.data, tmp / "resumed", interrupt_after=args.at * full_s)
        print(f"interrupted after {cut_s:.0f} s (exit {cut_rc})", file=sys.stderr)
        rerun_s, rerun_rc, rerun = evaluate(pred, args.data, tmp / "resumed")
        print(f"rerun: {rerun_s:.0f} s (exit {rerun_rc})", file=sys.stderr)
        shutil.rmtree(tmp / "still")
    differ = sorted(k for k in (full or {}) if rerun is None or rerun.get(k) != full[k])
    write_report(args.out, "resume.json", {
        "benchmark": "mmgt-eval all metrics on the still row: full run vs interrupted halfway (SIGINT) and rerun",
        "data": str(args.data),
        "full": {"seconds": round(full_s, 1), "exit_status": full_rc},
        "interrupted": {"seconds": round(cut_s, 1), "exit_status": cut_rc, "at_fraction": args.at},
        "rerun": {"seconds": round(rerun_s, 1), "exit_status": rerun_rc},
        "rerun_fraction_of_full": round(rerun_s / full_s, 3),
        "target_fraction": TARGET_FRACTION,
        "meets_target": rerun_s <= TARGET_FRACTION * full_s,
        "identical_values": full is not None and not differ,
        "values_that_differ": differ,
    })


if __name__ == "__main__":
    main()
