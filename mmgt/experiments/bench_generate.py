"""``make bench-generate``: the whole two-stage pipeline of ``mmgt generate`` (stage 1, masks, stage 2,
decode, mux), seconds per generated second of video and peak memory, with where the time goes.

Each case runs ``mmgt generate``'s code (:func:`mmgt.cli.generate.generate_video`) in a fresh
subprocess on the first test clip of ``--data`` (its 3.2 s of speech and its reference image, the
reference pose from its keypoints) with the method's default checkpoints: the committed tiny ones
(or ``runs/``, where training writes them). Model loading is timed apart from generation.

    python -m mmgt.experiments.bench_generate --data data/synth --out results/bench
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import torch

from mmgt.experiments.bench_common import peak_rss_mib, run_video_cases, write_report
from mmgt.experiments.timing import Stopwatch

METHODS = ("mmgt", "edge+animate-anyone", "edge+hallo")


def time_case(method: str, preset: str, threads: int, data: Path, device: str = "cpu") -> dict:
    """One generation in this process (call it in a fresh process for a clean peak memory)."""
    import mmgt.methods.mmgt_video as mmgt_video
    import mmgt.stage1.outputs as outputs
    import mmgt.video_io as video_io
    from mmgt.cli.generate import GenerateRequest, generate_video
    from mmgt.data.layout import Split
    from mmgt.methods.base import MethodConfig
    from mmgt.stage1.generate import PoseGenerator
    from mmgt.stage2.model import Stage2Model

    torch.set_num_threads(threads)
    load = os.getloadavg()[0]
    clip = Split(data).clips("test")[0]
    watch = Stopwatch()
    targets = [
        (PoseGenerator, "from_file", "load_stage1"), (PoseGenerator, "generate", "stage1_poses"),
        (outputs, "write_outputs", "pose_and_mask_videos"), (mmgt_video, "branch_masks", "stage2_masks"),
        (mmgt_video.MMGTVideo, "audio_features", "stage2_audio_features"),
        (Stage2Model, "reference", "stage2_reference_net"), (Stage2Model, "denoise", "stage2_denoiser"),
        (Stage2Model, "decode_latents", "stage2_vae_decode"), (video_io, "write_video", "mux_video"),
    ]
    with tempfile.TemporaryDirectory() as tmp, watch.wrapping(targets):
        req = GenerateRequest(audio=clip.audio_path, image=clip.ref_path, out=Path(tmp) / "out", method=method,
                              config=MethodConfig(preset=preset, device=device), keypoints=clip.dir / "keypoints.npy")
        start = time.perf_counter()
        files = generate_video(req, say=lambda _: None)
        total = time.perf_counter() - start
        record = json.loads(files["method"].read_text())
    seconds = record["frames"] / clip.record.fps
    return {
        "method": method, "preset": preset, "threads": threads, "device": device, "frames": record["frames"],
        "video_seconds": seconds, "seconds_total": round(total, 2), "seconds_per_video_second": round(total / seconds, 2),
        "parts": watch.report(),
        "checkpoints": {k: record["provenance"][k].get("checkpoint") for k in ("pose_source", "video") if k in record["provenance"]},
        "peak_rss_mib": peak_rss_mib(),
        "load_average_1min_at_start": round(load, 2),
    }


def main(argv: list[str] | None = None) -> None:
    ran = run_video_cases(argv, __doc__, "mmgt.experiments.bench_generate", "method", METHODS, time_case, [("tiny", "cpu")])
    if ran is None:
        return
    args, cases = ran
    write_report(args.out, "generate.json", {
        "benchmark": "mmgt generate, whole pipeline: 3.2 s of speech + one image -> mp4 with the speech muxed",
        "weights": "the methods' default tiny checkpoints (trained; committed under checkpoints/ or in runs/)",
        "data": str(args.data),
        "cases": cases,
    })


if __name__ == "__main__":
    main()
