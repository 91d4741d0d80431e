"""``make bench-stage1``: seconds to generate 3.2 s (80 frames) of pose, and peak memory, on this CPU.

Each case runs in a fresh subprocess (so ``ru_maxrss`` is that case's peak): a randomly initialised
model of the preset's architecture (speed does not depend on the weight values) samples one
80-frame window with the preset's DDIM steps and guidance, after one warm-up run; the median of
``--repeats`` runs is reported. Audio feature extraction is timed separately on the same 3.2 s.
Cases: presets (paper, tiny, edge-paper, edge-tiny) x threads (1, 2) x precision (fp32; bf16 autocast on request).
The load average at the start of each case is recorded: this machine is shared, and other work
running at the same time slows every number down.

Each case also counts its floating-point work (torch's ``FlopCounterMode`` over one whole window:
conditioning plus every guided step) and the file records this CPU's matrix-multiply throughput at
the decoder's own shapes, so ``gflop_per_window / gemm_gflops`` is the least time any
implementation of the same computation could take here.

    python -m mmgt.experiments.bench_stage1 --out results/bench
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from mmgt.experiments import bench_common
from mmgt.flops import gemm_gflops, gflop
from mmgt.video_io import SAMPLE_RATE

REAL_TIME_S = 3.2
PRESETS = ("paper", "tiny", "edge-paper", "edge-tiny")


def time_case(preset: str, threads: int, precision: str, repeats: int) -> dict:
    """Time one case in this process (call it in a fresh process for a clean peak memory)."""
    from mmgt.stage1.config import load_config
    from mmgt.stage1.diffusion import GaussianDiffusion, guided_denoiser
    from mmgt.stage1.smga import SMGA

    torch.set_num_threads(threads)
    load = os.getloadavg()[0]
    cfg = load_config(preset)
    torch.manual_seed(0)
    model = SMGA(cfg.model).eval()
    diffusion = GaussianDiffusion(cfg.diffusion)
    audio = torch.randn(1, cfg.model.horizon, cfg.model.audio_dim)
    ref = torch.rand(1, cfg.model.pose_dim) * 2 - 1

    def generate() -> None:
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            denoise = guided_denoiser(model, ref, audio, cfg.diffusion.guidance)
            diffusion.sample(denoise, (1, cfg.model.horizon, cfg.model.pose_dim), torch.Generator().manual_seed(0))

    work = gflop(generate)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        generate()
        times.append(time.perf_counter() - start)
    seconds = float(np.median(times))
    return {
        "preset": preset, "threads": threads, "precision": precision,
        "parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "sample_steps": cfg.diffusion.sample_steps, "guidance": cfg.diffusion.guidance, "frames": cfg.model.horizon,
        "seconds_per_window": round(seconds, 3), "all_runs_s": [round(t, 3) for t in times],
        "gflop_per_window": round(work, 1),
        "achieved_gflops": round(work / seconds, 1),
        "real_time_factor": round(seconds / REAL_TIME_S, 3), "faster_than_real_time": seconds < REAL_TIME_S,
        "peak_rss_mib": bench_common.peak_rss_mib(),
        "load_average_1min_at_start": round(load, 2),
    }


def time_features(threads: int) -> dict:
    """Seconds for the 35-d librosa features of 3.2 s of audio (after a warm-up call)."""
    from mmgt.features.librosa_baseline import baseline_features

    torch.set_num_threads(threads)
    wav = (0.1 * np.random.default_rng(0).standard_normal(int(REAL_TIME_S * SAMPLE_RATE))).astype(np.float32)
    baseline_features(wav, SAMPLE_RATE, 80)
    start = time.perf_counter()
    baseline_features(wav, SAMPLE_RATE, 80)
    return {"features": "baseline (35-d librosa)", "seconds_per_window": round(time.perf_counter() - start, 3)}


def run_isolated(args: list[str]) -> dict:
    """Run one case in a fresh interpreter and parse its JSON line."""
    return bench_common.run_isolated("mmgt.experiments.bench_stage1", args)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/bench"))
    parser.add_argument("--presets", default=",".join(PRESETS))
    parser.add_argument("--threads", default="1,2", help="comma-separated torch thread counts (2 oversubscribes a busy 2-core machine)")
    parser.add_argument("--precisions", default="fp32", help="comma-separated: fp32, bf16 (autocast; slow on CPUs without native bf16)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--case", nargs=3, metavar=("PRESET", "THREADS", "PRECISION"), help=argparse.SUPPRESS)
    parser.add_argument("--features", type=int, metavar="THREADS", help=argparse.SUPPRESS)
    parser.add_argument("--gemm", type=int, metavar="THREADS", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.case:
        print(json.dumps(time_case(args.case[0], int(args.case[1]), args.case[2], args.repeats)))
        return
    if args.features:
        print(json.dumps(time_features(args.features)))
        return
    if args.gemm:
        print(json.dumps(gemm_gflops(args.gemm, rows=160, dim=512, repeats=2000)))  # the decoder's shapes
        return
    cases = []
    for preset in args.presets.split(","):
        for threads in args.threads.split(","):
            for precision in args.precisions.split(","):
                result = run_isolated(["--case", preset, threads, precision, "--repeats", str(args.repeats)])
                print(f"{preset:10s} threads={threads} {precision}: {result['seconds_per_window']:.2f} s / 80 frames, "
                      f"peak {result['peak_rss_mib']:.0f} MiB (load {result['load_average_1min_at_start']})", file=sys.stderr)
                cases.append(result)
    report = {
        "benchmark": "stage-1 pose generation, one 80-frame (3.2 s) window, DDIM with classifier-free guidance",
        "weights": "random init of each preset's architecture (timing only)",
        "cases": cases,
        "features": run_isolated(["--features", "1"]),
        "gemm_gflops": {t: run_isolated(["--gemm", t]) for t in args.threads.split(",")},
    }
    for case in cases:  # the least time the same arithmetic could take on this CPU
        case["floor_seconds"] = round(case["gflop_per_window"] / report["gemm_gflops"][str(case["threads"])], 2)
    bench_common.write_report(args.out, "stage1.json", report)


if __name__ == "__main__":
    main()
