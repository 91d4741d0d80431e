"""mmgt-eval: score generated co-speech videos against ground truth under the evaluation protocol (docs/PROTOCOL.md).

\b
    mmgt-eval --pred runs/mmgt --gt data/synth              # every metric, both regions
    mmgt-eval --pred P --gt G --metrics psnr,ssim --regions face --json
    mmgt-eval --pred P --gt G --shard 0/4 --out shards      # state in shards/shard-0-of-4; then: mmgt-eval merge shards
    mmgt-eval check --pred P --gt G                         # integrity pass only
    mmgt-eval ls                                            # metrics, extractors, weights
    mmgt-eval table results/eval/*                          # render results as a table
    mmgt-eval compare RUN_A RUN_B                           # paired differences with intervals
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from eval.config import ALL_METRICS, DEFAULT_METRICS, EvalConfig
from eval.preflight import check_input_folder, check_options, check_paths, check_writable_folder, parse_shard
from eval.protocol import FVD_PROTOCOLS, Protocol
from mmgt.cli.common import EXIT_INCOMPLETE, on_interrupt, run_cli
from mmgt.errors import UsageError

app = typer.Typer(
    name="mmgt-eval",
    help=__doc__,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    add_completion=False,
)

DEFAULTS = EvalConfig(pred=Path("."), gt=Path("."))
PROTOCOL = DEFAULTS.protocol
METRIC_ALIASES = {"div": "fgd"}  # Div is computed from FGD's gesture latents: asking for either gives both


def _csv(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def _metrics(value: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(METRIC_ALIASES.get(m, m) for m in _csv(value)))


def build_config(
    pred: Path, gt: Path, audio: Optional[Path], pred_keypoints: Optional[Path], metrics: str, regions: str,
    split: str, cache_dir: Path, weights_dir: Optional[Path], allow_untrained: bool, allow_missing: bool,
    gesture_encoder: Optional[Path], shard: str, device: str, batch_size: int, protocol: Protocol, progress: bool,
    reuse_memory: bool, bootstrap: int = DEFAULTS.bootstrap, bootstrap_seed: int = DEFAULTS.bootstrap_seed,
) -> EvalConfig:
    return EvalConfig(
        pred=pred, gt=gt, audio=audio, pred_keypoints=pred_keypoints, metrics=_metrics(metrics), regions=_csv(regions),
        protocol=protocol, split=split, cache_dir=cache_dir, weights_dir=weights_dir,
        allow_untrained=allow_untrained, allow_missing=allow_missing, gesture_encoder=gesture_encoder,
        shard=parse_shard(shard), device=device, batch_size=batch_size, progress=progress, reuse_memory=reuse_memory,
        bootstrap=bootstrap, bootstrap_seed=bootstrap_seed,
    )


def init_distributed(device: str) -> int:
    """Join the process group when launched by torchrun (``WORLD_SIZE`` > 1); returns this rank."""
    import os

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return 0
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return dist.get_rank()


@app.callback(invoke_without_command=True)
def main_command(
    ctx: typer.Context,
    pred: Optional[Path] = typer.Option(None, help="Predictions: <id>/video.mp4 folders, <id>.mp4 files, or a split root."),
    gt: Optional[Path] = typer.Option(None, help="Ground truth: a split root (its test clips) or a folder like --pred."),
    audio: Optional[Path] = typer.Option(None, help="Driving audio per clip (<id>.wav); default: GT's audio.wav."),
    pred_keypoints: Optional[Path] = typer.Option(None, help="Keypoints the method wrote (<id>.npy) for FGD; default: PRED/<id>/keypoints.npy."),
    metrics: str = typer.Option(",".join(DEFAULT_METRICS), help="Comma-separated metric families (div comes with fgd; "
                                "hkc and csim need DWPose / ArcFace weights and run only when named)."),
    regions: str = typer.Option(",".join(DEFAULTS.regions), help="Comma-separated regions: full, face."),
    split: str = typer.Option(DEFAULTS.split, help="Which split of a split root to score."),
    out: Path = typer.Option(Path("results/eval"), help="Results root; each run makes a new directory inside "
                             "(with --shard i/N: the state goes to OUT/shard-i-of-N)."),
    cache_dir: Path = typer.Option(DEFAULTS.cache_dir, help="Feature cache (GT features, per-clip results)."),
    weights_dir: Optional[Path] = typer.Option(None, help="Weights cache (default $MMGT_WEIGHTS_DIR)."),
    allow_untrained: bool = typer.Option(False, "--allow-untrained-extractors", help="Use seeded random-init extractors when weights are missing; every such value is marked."),
    allow_missing: bool = typer.Option(False, help="Score the clips that have predictions even if some GT clips have none."),
    gesture_encoder: Optional[Path] = typer.Option(None, help="Gesture autoencoder checkpoint for FGD/Div."),
    shard: str = typer.Option("0/1", help="Evaluate shard i of N and save partial state (merge with `mmgt-eval merge`)."),
    device: str = typer.Option(DEFAULTS.device, help="torch device for the feature extractors."),
    batch_size: int = typer.Option(DEFAULTS.batch_size, help="Frames per extractor batch (results do not depend on it)."),
    trim: str = typer.Option("none", help="Frame-count policy when pred and GT differ: none (error) or min."),
    fps_resample: bool = typer.Option(False, help="Retime predictions at another (or a variable) frame rate to "
                                      "25 fps by nearest frame on GT's timeline (recorded per clip); default: refused."),
    face_track: str = typer.Option(PROTOCOL.face_track, help="Face region and lip sync: per-video (each video's own "
                                   "face, found by --face-detector) or gt (GT's face position on both sides, for "
                                   "pose-driven rows)."),
    face_detector: str = typer.Option(PROTOCOL.face_detector, help="Per-video face detector: facemesh (MediaPipe, "
                                      "shipped), s3fd (syncnet-python's; needs sfd_face.pth) or mtcnn."),
    fvd_protocol: str = typer.Option(PROTOCOL.fvd_protocol, help="What one FVD/KVD sample is, as each reference tool "
                                     f"defines it: {', '.join(FVD_PROTOCOLS)} (docs/PROTOCOL.md)."),
    json_out: bool = typer.Option(False, "--json", help="Print results.json to stdout."),
    progress: bool = typer.Option(True, help="Progress bars on stderr."),
    reuse_memory: bool = typer.Option(DEFAULTS.reuse_memory, help="Keep freed memory mapped for reuse (glibc): "
                                      "~20% faster network passes on CPU; the process's memory stays at its peak."),
    bootstrap: int = typer.Option(DEFAULTS.bootstrap, help="Clip-bootstrap resamples for each metric's 95% interval "
                                  "(0: no intervals); runs compared with `mmgt-eval compare` need the same B and seed."),
    bootstrap_seed: int = typer.Option(DEFAULTS.bootstrap_seed, help="Seed of the clip bootstrap's draws."),
) -> None:
    """Evaluate --pred against --gt (when no subcommand is given)."""
    if ctx.invoked_subcommand is not None:
        return
    if pred is None or gt is None:
        raise UsageError("--pred/--gt", "both are required (see mmgt-eval --help)")
    protocol = Protocol(trim=trim, fps_resample=fps_resample, face_track=face_track, face_detector=face_detector,
                        fvd_protocol=fvd_protocol)
    config = build_config(pred, gt, audio, pred_keypoints, metrics, regions, split, cache_dir, weights_dir,
                          allow_untrained, allow_missing, gesture_encoder, shard, device, batch_size, protocol, progress,
                          reuse_memory, bootstrap, bootstrap_seed)
    check_options(config, ALL_METRICS)
    sharded = config.shard[1] > 1
    check_paths(config, None if sharded else out)
    from eval.run import check_partial_target, evaluate, write_partial, write_run  # torch: after the option checks

    if sharded:
        check_partial_target(config, out)
    on_interrupt(lambda: (f"clips finished so far are cached in {cache_dir}; rerun the same command to resume"
                          " (no results were written)"))
    rank = init_distributed(device)
    results, states, _ = evaluate(config)
    if rank != 0:
        return
    if sharded:
        where = write_partial(config, states, results, out)
        print(f"shard {shard} saved to {where}", file=sys.stderr)
    else:
        where = write_run(results, states, out)
        print(f"results written to {where}", file=sys.stderr)
    print(json.dumps(results, indent=2) if json_out else _summary(results))
    report_run(results)


def _summary(results: dict) -> str:
    from eval.table import results_summary

    return results_summary(results)


def report_run(results: dict) -> None:
    """Notes and warnings on stderr, then, for incomplete results, which clips failed and why (exit 3)."""
    from eval.run import resize_summary

    note = resize_summary(results["clips"].get("resized", {}))
    if note:
        print(f"note: {note}", file=sys.stderr)
    for line in results.get("warnings", []):
        print(f"warning: {line}", file=sys.stderr)
    if results["complete"]:
        return
    clips = results["clips"]
    failed, missing = clips["failed"], clips["missing"]
    lines = [f"incomplete: {len(failed)} failed, {len(missing)} missing clip(s); "
             f"the values cover the {len(clips['evaluated'])} other clip(s)"]
    lines += [f"  failed  {cid}: {why}" for cid, why in sorted(failed.items())]
    lines += [f"  missing {cid}: no prediction" for cid in missing]
    print("\n".join(lines), file=sys.stderr)
    raise typer.Exit(EXIT_INCOMPLETE)


@app.command()
def check(
    pred: Path = typer.Option(..., help="Predictions folder."),
    gt: Path = typer.Option(..., help="Ground-truth folder or split root."),
    split: str = typer.Option("test", help="Split of a split root."),
    audio: Optional[Path] = typer.Option(None, help="Driving audio per clip (<id>.wav); default: GT's audio.wav."),
    pred_keypoints: Optional[Path] = typer.Option(None, help="Keypoints the method wrote (<id>.npy)."),
    trim: str = typer.Option("none", help="Frame-count policy when pred and GT differ: none (problem) or min."),
    fps_resample: bool = typer.Option(False, help="Accept predictions at another frame rate (retimed as a run would)."),
    metrics: str = typer.Option(",".join(DEFAULT_METRICS), help="The metrics of the run to check for (lip sync reads the audio)."),
) -> None:
    """Integrity pass, reading every file as a full run does: missing clips, videos (decodable, fps, frame
    counts), keypoints (shape, frames, finite) and audio. Exit 3 on problems."""
    config = EvalConfig(pred=pred, gt=gt, audio=audio, pred_keypoints=pred_keypoints, split=split, metrics=_metrics(metrics),
                        protocol=Protocol(trim=trim, fps_resample=fps_resample), cache_dir=None, progress=False)
    check_options(config, ALL_METRICS)
    check_paths(config)
    from eval.check import check_pairs  # torch: after the option checks

    report = check_pairs(config)
    for line in report.problems:
        print(line)
    for line in report.notes:
        print(f"note: {line}", file=sys.stderr)
    print(f"{len(report.problems)} problem(s)", file=sys.stderr)
    if report.problems:
        raise typer.Exit(EXIT_INCOMPLETE)


@app.command("ls")
def list_all(weights_dir: Optional[Path] = typer.Option(None, help="Weights cache to inspect.")) -> None:
    """Metrics, feature extractors, their weights, and whether the weights are present."""
    from eval.extractor_set import describe

    print(describe(weights_dir))


@app.command()
def table(
    runs: list[Path] = typer.Argument(..., help="Run directories or results.json files."),
    fmt: str = typer.Option("github", help="tabulate format (github, latex, plain, ...)."),
) -> None:
    """Render results files side by side (one row per run)."""
    from eval.table import runs_table

    print(runs_table(runs, fmt))


@app.command("compare")
def compare_cmd(
    run_a: Path = typer.Argument(..., help="Run directory A (results.json and bootstrap.npz)."),
    run_b: Path = typer.Argument(..., help="Run directory B, scored on the same GT clips."),
    fmt: str = typer.Option("github", help="tabulate format (github, latex, plain, ...)."),
) -> None:
    """Per metric: A - B, its paired clip-bootstrap 95% interval, and whether A is better, worse or tied."""
    from eval.compare import compare_runs, differences_table

    for path in (run_a, run_b):
        check_input_folder(path, "RUN")
    print(differences_table(compare_runs(run_a, run_b), fmt))


@app.command()
def merge(
    shards: list[Path] = typer.Argument(..., help="Shard folders written with --shard i/N, or the --out they were written to."),
    out: Path = typer.Option(Path("results/eval"), help="Results root for the merged run."),
    json_out: bool = typer.Option(False, "--json", help="Print results.json to stdout."),
) -> None:
    """Merge shard states exactly and write one results directory."""
    from eval.merge import merge_shards

    check_writable_folder(out, "--out")
    results, where = merge_shards(shards, out)
    print(f"results written to {where}", file=sys.stderr)
    print(json.dumps(results, indent=2) if json_out else _summary(results))
    report_run(results)


@app.command("train-gesture-encoder")
def train_gesture_encoder_cmd(
    data: Path = typer.Option(Path("data/synth"), help="Split root whose train keypoints train the encoder."),
    out: Optional[Path] = typer.Option(None, help="Checkpoint path (default: the cached encoder for this data)."),
    seed: int = typer.Option(0, help="Training seed."),
) -> None:
    """Train the gesture autoencoder used by FGD/Div on a split's training keypoints."""
    from eval.gesture_cache import train_for_split

    path = train_for_split(data, out, seed)
    print(path)


def main() -> None:
    """Console-script entry point."""
    run_cli(app)


if __name__ == "__main__":
    main()
