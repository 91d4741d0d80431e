"""The stage-1 report: SMGA vs EDGE vs a still pose on the test clips of a split.

For every test clip each method generates the clip's 80 frames from its audio and its first
frame's pose (``--samples`` seeds per clip). Rows: ground truth, SMGA (``tiny`` preset), EDGE
(``edge-tiny``), and the still pose (frame 0 held). Columns: keypoint lip-audio correlation
(:mod:`mmgt.stage1.lipsync`), mouth motion (std of the opening, px), and FGD / Div in the latent
space of the evaluation harness's gesture autoencoder (trained on the split's train keypoints when
no checkpoint is given). Models missing from ``--runs`` are trained first with their preset.

    python -m mmgt.experiments.stage1_report --data data/synth --runs runs/stage1 --out results/stage1
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tabulate import tabulate

from mmgt.data.layout import Clip, Split
from mmgt.stage1.checkpoint import MODEL_FILE, load_model
from mmgt.stage1.config import load_config
from mmgt.stage1.generate import PoseGenerator
from mmgt.stage1.lipsync import lip_audio_correlation, mouth_opening
from mmgt.stage1.train import RunOptions, train
from mmgt.video_io import atomic_path

METHODS = {"SMGA": "tiny", "EDGE": "edge-tiny"}


@dataclass
class MethodPoses:
    """Generated pixel keypoints: ``poses[k]`` are the ``(T, 134, 3)`` of ``clips[k]``."""

    name: str
    clips: list[Clip]
    poses: list[np.ndarray]
    info: dict


def ensure_model(preset: str, data: Path, runs: Path) -> tuple[Path, dict]:
    """The preset's trained model under ``runs``; trained now (and timed) when absent."""
    cfg = load_config(preset)
    run_dir = runs / cfg.name
    info: dict = {"preset": preset, "model": str(run_dir / MODEL_FILE)}
    if not (run_dir / MODEL_FILE).is_file():
        start = time.perf_counter()
        train(cfg, RunOptions(data=str(data), out=str(run_dir)))
        info["train_seconds"] = round(time.perf_counter() - start, 1)
    _, model, payload = load_model(run_dir)
    info |= {"steps": payload["step"], "parameters": sum(p.numel() for p in model.parameters() if p.requires_grad)}
    return run_dir, info


def generate_method(name: str, run_dir: Path, clips: list[Clip], samples: int, info: dict) -> MethodPoses:
    generator = PoseGenerator.from_file(run_dir)
    out_clips, poses = [], []
    start = time.perf_counter()
    for clip in clips:
        r = clip.record
        ref = clip.keypoints()[0]
        for seed in range(samples):
            poses.append(generator.generate(clip.audio_path, ref, (r.width, r.height), n_frames=r.n_frames, seed=seed))
            out_clips.append(clip)
    info["generate_seconds_per_clip"] = round((time.perf_counter() - start) / len(poses), 2)
    return MethodPoses(name, out_clips, poses, info)


def reference_rows(clips: list[Clip]) -> tuple[MethodPoses, MethodPoses]:
    gt = [clip.keypoints() for clip in clips]
    still = [np.repeat(kp[:1], len(kp), axis=0) for kp in gt]
    return MethodPoses("GT", clips, gt, {}), MethodPoses("still pose", clips, still, {})


def gesture_extractor(checkpoint: Path | None, data: Path):
    """The harness's gesture encoder: the given checkpoint, else the harness's cached one for ``data``."""
    from eval.extractors.gesture_ae import GestureExtractor
    from eval.gesture_cache import encoder_for_split

    checkpoint = checkpoint or encoder_for_split(data)
    return GestureExtractor.from_checkpoint(checkpoint), checkpoint


def score(method: MethodPoses, extractor, gt_latents: np.ndarray) -> dict:
    from eval.metrics.fgd import diversity
    from eval.metrics.frechet import frechet_distance

    corr = [lip_audio_correlation(kp, clip.audio()) for kp, clip in zip(method.poses, method.clips)]
    motion = [float(mouth_opening(kp).std()) for kp in method.poses]
    latents = latents_of(method, extractor)
    r = lambda v, n=3: round(float(v), n) + 0.0  # noqa: E731  (+ 0.0 turns -0.0 into 0.0)
    fgd = frechet_distance(latents.mean(0), np.cov(latents, rowvar=False), gt_latents.mean(0), np.cov(gt_latents, rowvar=False))
    return {
        "method": method.name, "samples": len(method.poses),
        "lip_audio_corr": r(np.mean(corr)), "lip_audio_corr_std": r(np.std(corr)),
        "mouth_motion_px": r(np.mean(motion), 2), "fgd": r(fgd), "div": r(diversity(latents, seed=0)),
    } | method.info


def latents_of(method: MethodPoses, extractor) -> np.ndarray:
    return np.concatenate([
        extractor.features(kp[None], (clip.record.width, clip.record.height)) for kp, clip in zip(method.poses, method.clips)
    ])


def write_report(rows: list[dict], meta: dict, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "report.json") as tmp:
        tmp.write_text(json.dumps({"rows": rows} | meta, indent=2) + "\n")
    table = tabulate(
        [[r["method"], r["lip_audio_corr"], r["lip_audio_corr_std"], r["mouth_motion_px"], r["fgd"], r["div"]] for r in rows],
        headers=["method", "lip-audio corr ↑", "(std)", "mouth motion px", "FGD ↓", "Div"], tablefmt="github",
    )
    models = "\n".join(f"- {r['method']}: preset `{r['preset']}`, {r['parameters']:,} parameters, {r['steps']} steps"
                       f"{', trained in %.0f s' % r['train_seconds'] if 'train_seconds' in r else ''}, "
                       f"{r['generate_seconds_per_clip']} s per 80-frame clip (50 DDIM steps, guidance 2)"
                       for r in rows if "preset" in r)
    text = f"""# Stage-1 report: audio -> pose on `{meta['data']}`

Test clips: {meta['test_clips']} ({meta['samples_per_clip']} samples each for generated rows). Regenerate with
`make report-stage1` (`python -m mmgt.experiments.stage1_report`).

{table}

- lip-audio corr: Pearson correlation of the inner-lip opening with the 40 ms RMS audio envelope,
  per clip, mean over clips (a still mouth scores 0 by definition).
- mouth motion: std of the inner-lip opening over a clip, pixels, mean over clips.
- FGD / Div: gesture-autoencoder latents (`eval/extractors/gesture_ae.py`, checkpoint
  `{meta['gesture_ae']}`); FGD against the test ground truth. With this few test clips the
  covariances are rank-deficient: compare rows, not absolute values.

Models:
{models}
"""
    with atomic_path(out / "report.md") as tmp:
        tmp.write_text(text)
    return out / "report.md"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/synth"))
    parser.add_argument("--runs", type=Path, default=Path("runs/stage1"))
    parser.add_argument("--out", type=Path, default=Path("results/stage1"))
    parser.add_argument("--samples", type=int, default=3, help="generated samples (seeds) per test clip")
    parser.add_argument("--gesture-ae", type=Path, default=None, help="gesture autoencoder checkpoint")
    args = parser.parse_args(argv)
    clips = Split(args.data).clips("test")
    gt, still = reference_rows(clips)
    methods = []
    for name, preset in METHODS.items():
        run_dir, info = ensure_model(preset, args.data, args.runs)
        methods.append(generate_method(name, run_dir, clips, args.samples, info))
    extractor, checkpoint = gesture_extractor(args.gesture_ae, args.data)
    gt_latents = latents_of(gt, extractor)
    rows = [score(m, extractor, gt_latents) for m in (gt, *methods, still)]
    meta = {"data": str(args.data), "test_clips": len(clips), "samples_per_clip": args.samples,
            "gesture_ae": f"{checkpoint} (sha256 {extractor.weights[:16]})"}
    print(write_report(rows, meta, args.out).read_text())


if __name__ == "__main__":
    main()
