"""``make bench-stage2``: stage-2 video generation speed on this CPU: seconds per generated second of
video, peak memory, and where the time goes (ReferenceNet, PoseGuider, denoiser, VAE decode, I/O).

Each case runs in a fresh subprocess (so ``ru_maxrss`` is that case's peak): a randomly initialised
model of the preset's architecture (speed does not depend on the weight values) renders the first
test clip of ``--data`` (its reference image and 80 GT poses; MMGT also its audio features and
motion masks) with the preset's inference settings (DDIM steps, guidance, 12/4 context windows),
after a 2-step warm-up; then the frames are written as mp4 with the clip's audio muxed (I/O).
Cases: ``animate-anyone`` (the backbone) and ``mmgt`` (backbone + MM-HAA) x torch threads, and
``animate-anyone@ddim-30``: the backbone with the sampler settings before issue 27 (DDIM, 30 steps),
against which every case's ``ratio_to_ddim30`` (seconds per video second) is reported from the same run.
The paper preset (512 px, SD-1.5 sizes) needs a GPU; it is benchmarked only where one is present.

    python -m mmgt.experiments.bench_stage2 --data data/synth --out results/bench
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from mmgt.experiments.bench_common import peak_rss_mib, run_video_cases, write_report
from mmgt.experiments.timing import Stopwatch
from mmgt.memory import reuse_freed_memory
from mmgt.video_io import SAMPLE_RATE

BASELINE = "animate-anyone@ddim-30"
MODELS = ("animate-anyone", "mmgt", BASELINE)


def build_pipeline(model_name: str, preset: str, overrides: tuple[str, ...] = ()):
    """A random-init pipeline of the preset's architecture (video step: motion modules added); a name
    ``model@sampler-steps`` samples with that solver and step count instead of the preset's."""
    from mmgt.stage2.audio_attention import load_audio_config
    from mmgt.stage2.config import load_config
    from mmgt.stage2.mmgt_model import MMGTModel
    from mmgt.stage2.mmgt_pipeline import MMGTPipeline
    from mmgt.stage2.model import Stage2Model, make_scheduler
    from mmgt.stage2.pipeline import Stage2Pipeline

    if "@" in model_name:
        model_name, setting = model_name.split("@")
        sampler, steps = setting.rsplit("-", 1)
        overrides = (*overrides, f"inference.sampler={sampler}", f"inference.steps={steps}")
    cfg = load_config(preset, overrides)
    torch.manual_seed(0)
    model = Stage2Model.build(cfg)
    model.add_motion()
    scheduler = make_scheduler(cfg.scheduler)
    if model_name == "animate-anyone":
        return Stage2Pipeline(model, scheduler)
    return MMGTPipeline(MMGTModel.from_backbone(model, load_audio_config(preset)), scheduler)


def time_case(model_name: str, preset: str, threads: int, data: Path, device: str, overrides: tuple[str, ...] = ()) -> dict:
    """Render and write one clip in this process (call it in a fresh process for a clean peak memory);
    ``overrides`` change the preset (tests shrink it)."""
    from mmgt.data.layout import Split
    from mmgt.features.audio import AudioFeatureConfig, AudioFeaturizer
    from mmgt.stage2.audio_attention import branch_masks
    from mmgt.stage2.mmgt_pipeline import MMGTPipeline
    from mmgt.stage2.model import Stage2Model
    from mmgt.video_io import write_video

    torch.set_num_threads(threads)
    reuse_freed_memory()  # as the stage-2 methods do (MethodConfig.reuse_memory)
    load = os.getloadavg()[0]
    clip = Split(data).clips("test")[0]
    ref, poses, audio = clip.ref(), clip.keypoints(), clip.audio(SAMPLE_RATE)
    size = (ref.shape[1], ref.shape[0])
    pipe = build_pipeline(model_name, preset, overrides)
    pipe.model.to(device)
    extra = {}
    if isinstance(pipe, MMGTPipeline):
        audio_cfg = pipe.model.audio_cfg
        features = AudioFeaturizer(AudioFeatureConfig(audio_cfg.feature_kind)).from_wave(audio, len(poses))
        extra = {"audio": features, "masks": branch_masks(poses, size, audio_cfg.masks)}
    steps = pipe.config.steps
    pipe.config = replace(pipe.config, steps=2)
    pipe(ref, poses[:12], **{k: v[:12] for k, v in extra.items()})  # warm-up
    pipe.config = replace(pipe.config, steps=steps)
    watch = Stopwatch()
    m = type(pipe.model)
    targets = [(m, "reference", "reference_net"), (m, "denoise", "denoiser"), (Stage2Model, "decode_latents", "vae_decode"),
               (pipe.model.pose_guider, "forward", "pose_guider")]
    start = time.perf_counter()
    with watch.wrapping(targets):
        frames = pipe(ref, poses, **extra)
    render = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        io_start = time.perf_counter()
        write_video(Path(tmp) / "video.mp4", frames, fps=clip.record.fps, audio=audio, sample_rate=SAMPLE_RATE)
        io = time.perf_counter() - io_start
    video_seconds = len(poses) / clip.record.fps
    parts = watch.report()
    parts["io_write_mux"] = {"seconds": round(io, 3), "calls": 1}
    return {
        "model": model_name, "preset": preset, "threads": threads, "device": device,
        "frames": len(poses), "video_seconds": video_seconds, "resolution": pipe.model.cfg.resolution,
        "inference": {"sampler": pipe.config.sampler, "steps": steps, "guidance": pipe.config.guidance, "context_frames": pipe.config.context_frames,
                      "context_overlap": pipe.config.context_overlap, "window_batch": pipe.config.window_batch},
        "parameters": sum(p.numel() for p in pipe.model.parameters()),
        "seconds_render": round(render, 2), "seconds_total": round(render + io, 2),
        "seconds_per_video_second": round((render + io) / video_seconds, 2),
        "parts": parts,
        "peak_rss_mib": peak_rss_mib(),
        "load_average_1min_at_start": round(load, 2),
    }


def main(argv: list[str] | None = None) -> None:
    setups = [("tiny", "cpu")] + ([("paper", "cuda")] if torch.cuda.is_available() else [])
    ran = run_video_cases(argv, __doc__, "mmgt.experiments.bench_stage2", "model", MODELS, time_case, setups)
    if ran is None:
        return
    args, cases = ran
    baseline = {(c["preset"], c["threads"]): c["seconds_per_video_second"] for c in cases if c["model"] == BASELINE}
    for case in cases:
        if (base := baseline.get((case["preset"], case["threads"]))) is not None:
            case["ratio_to_ddim30"] = round(case["seconds_per_video_second"] / base, 3)
    write_report(args.out, "stage2.json", {
        "benchmark": "stage-2 video generation: one test clip (80 frames, 3.2 s) rendered and written with its audio",
        "weights": "random init of each preset's architecture (timing only)",
        "data": str(args.data),
        "cases": cases,
    })


if __name__ == "__main__":
    main()
