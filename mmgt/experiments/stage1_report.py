"""The stage-1 report: audio -> pose rows on the test clips of a split, each difference isolated.

Rows: ground truth, SMGA (``tiny``), SMGA single-stream (``tiny-single-stream``), SMGA without face
loss (``tiny-no-face-loss``), EDGE (``edge-tiny``: single stream and no face loss) and the still pose.
All trained rows share one training budget (tests/stage1/test_presets.py); each is trained with
``--seeds`` seeds (``make stage1-models``) and reported as mean and std over them.

Every row runs through the method layer as a composed row (its pose source + :class:`PoseVideo`), so
the runner writes keypoints and a pose video per clip, and FGD / Div come from the evaluation harness
(``mmgt-eval``'s code path, the committed gesture space of the embedded split). The keypoint
lip-audio correlation (:mod:`mmgt.stage1.lipsync`: inner-lip opening vs the 40 ms RMS envelope) and
the mouth motion are stage-1 measures on the keypoints themselves.

    python -m mmgt.experiments.stage1_report --data data/synth --runs runs/stage1 --out results/stage1
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from tabulate import tabulate

from eval.gesture_cache import encoder_for_split
from eval.config import EvalConfig
from eval.protocol import Protocol
from eval.run import evaluate
from mmgt.data.layout import Clip, Split, load_keypoints
from mmgt.methods import Generation, Method, MethodConfig, run_method
from mmgt.methods.base import Conditions, PoseSource
from mmgt.methods.reference import GroundTruthPoses, PoseVideo, StillPoses
from mmgt.methods.stage1_poses import Stage1Poses
from mmgt.provenance import git_info
from mmgt.stage1.checkpoint import MODEL_FILE, load_model
from mmgt.stage1.config import load_config
from mmgt.stage1.lipsync import lip_audio_correlation, mouth_opening
from mmgt.video_io import atomic_path

# each trained row differs from SMGA in the switches its preset names, at the same training budget
TRAINED = {"SMGA": "tiny", "SMGA single-stream": "tiny-single-stream", "SMGA without face loss": "tiny-no-face-loss",
           "EDGE": "edge-tiny"}
MEASURES = ("lip_audio_corr", "mouth_motion_px", "fgd", "div")


class PoseRow(Method):
    """A pose source drawn as pose video; driven like its source."""

    def __init__(self, source: PoseSource, name: str):
        super().__init__(source.config)
        self.source, self.name, self.driven_by = source, name, source.driven_by
        self.description = source.description

    def generate(self, cond: Conditions) -> Generation:
        poses = self.source.poses(cond)
        return Generation(PoseVideo(self.config).render(cond, poses), poses)

    def provenance(self) -> dict:
        return super().provenance() | {"pose_source": self.source.provenance()}


def model_dir(runs: Path, preset: str, seed: int) -> Path:
    return runs / load_config(preset, [f"train.seed={seed}"]).run_name


def keypoint_measures(pred: Path, clips: list[Clip]) -> dict:
    """Per-clip keypoint lip-audio correlation and mouth motion (std of the opening, px), averaged over clips."""
    corr, motion = [], []
    for clip in clips:
        kp = load_keypoints(pred / clip.clip_id / "keypoints.npy", clip.record.n_frames)
        corr.append(lip_audio_correlation(kp, clip.audio()))
        motion.append(float(mouth_opening(kp).std()))
    return {"lip_audio_corr": float(np.mean(corr)), "mouth_motion_px": float(np.mean(motion))}


def score(method: Method, data: Path, clips: list[Clip], out: Path, encoder: Path) -> dict:
    """Run ``method`` into ``out`` and measure it: keypoint measures + FGD/Div through the harness."""
    pred = run_method(method, clips, out, replace=True, progress=False)
    results, _, _ = evaluate(EvalConfig(pred=pred, gt=data, metrics=("fgd",), cache_dir=out.parent / "cache",
                                        gesture_encoder=encoder, progress=False))
    gesture = results["metrics"]["gesture"]
    return keypoint_measures(pred, clips) | {
        "fgd": gesture["fgd"]["value"], "div": gesture["div"]["value"],
        "gesture_encoder": results["extractors"]["gesture"]["weights"],
        "untrained": bool(gesture["fgd"].get("untrained")),
    }


def summarise(name: str, per_seed: list[dict], info: dict) -> dict:
    """Mean and std (over training seeds; std 0 for untrained rows) of every measure."""
    row = {"method": name, "seeds": len(per_seed), **info}
    for m in MEASURES:
        values = np.array([s[m] for s in per_seed], dtype=np.float64)
        row[m], row[f"{m}_std"] = float(values.mean()), float(values.std())
    row["gesture_encoder"] = per_seed[0]["gesture_encoder"]
    row["untrained"] = any(s["untrained"] for s in per_seed)
    row["per_seed"] = per_seed
    return row


def model_info(path: Path) -> dict:
    cfg, model, payload = load_model(path)
    return {"preset": cfg.name, "steps": payload["step"], "parameters": sum(p.numel() for p in model.parameters())}


def fmt(row: dict, m: str, digits: int = 3) -> str:
    value = round(row[m], digits) + 0.0  # + 0.0: no "-0.000" from a rounding-level negative
    text = f"{value:.{digits}f}" + (f" ± {row[f'{m}_std']:.{digits}f}" if row["seeds"] > 1 else "")
    return text + ("†" if row["untrained"] and m in ("fgd", "div") else "")


def write_report(rows: list[dict], meta: dict, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "report.json") as tmp:
        tmp.write_text(json.dumps({"rows": rows} | meta, indent=2) + "\n")
    table = tabulate([[r["method"], r["seeds"], fmt(r, "lip_audio_corr"), fmt(r, "mouth_motion_px", 2), fmt(r, "fgd"), fmt(r, "div")]
                      for r in rows],
                     headers=["method", "seeds", "lip-audio corr ↑", "mouth motion px", "FGD ↓", "Div"], tablefmt="github",
                     disable_numparse=True)
    models = "\n".join(f"- {r['method']}: preset `{r['preset']}`, {r['parameters']:,} parameters, {r['steps']} steps"
                       for r in rows if "preset" in r)
    text = f"""# Stage-1 report: audio -> pose on `{meta['data']}`

**Data:** `{meta['data']}` ({meta['test_clips']} test clips, synthetic speakers: not comparable to the paper's PATS
numbers). **Code:** {meta['code']['commit']}. **Protocol:** mmgt-eval v{meta['protocol']} for FGD/Div, gesture
encoder sha256 `{meta['gesture_encoder'][:16]}`. Regenerate with `make report-stage1`.

Trained rows: mean ± std over {meta['seeds']} training seeds (one sample per test clip, sampling seed 0), all at the
same training budget; each row differs from SMGA only in what its name says (EDGE: one stream and no face loss).

{table}

- lip-audio corr: per clip Pearson correlation of the keypoint inner-lip opening with the 40 ms RMS audio envelope,
  mean over clips (a still mouth scores 0).
- mouth motion: std of the inner-lip opening over a clip, pixels, mean over clips.
- FGD / Div: the evaluation harness on the rows' keypoints (the committed gesture encoder of the embedded split).
  With 8 test clips the covariances are rank-deficient: compare rows, not absolute values.{meta['untrained_note']}

Models:
{models}
"""
    with atomic_path(out / "report.md") as tmp:
        tmp.write_text(text)
    return out / "report.md"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/synth"))
    parser.add_argument("--runs", type=Path, default=Path("runs/stage1"), help="trained models (make stage1-models)")
    parser.add_argument("--work", type=Path, default=Path("runs/stage1_report"), help="generated rows (git-ignored)")
    parser.add_argument("--out", type=Path, default=Path("results/stage1"))
    parser.add_argument("--seeds", type=int, default=3, help="training seeds per trained row")
    args = parser.parse_args(argv)
    clips = Split(args.data).clips("test")
    encoder = encoder_for_split(args.data)  # the committed space for the embedded split, else trained once and cached
    rows = [summarise("GT", [score(PoseRow(GroundTruthPoses(), "gt"), args.data, clips, args.work / "gt", encoder)], {})]
    for name, preset in TRAINED.items():
        per_seed, info = [], {}
        for seed in range(args.seeds):
            path = model_dir(args.runs, preset, seed) / MODEL_FILE
            info = model_info(path)
            source = Stage1Poses(MethodConfig(checkpoint=path))
            per_seed.append(score(PoseRow(source, name), args.data, clips, args.work / f"{preset}-seed{seed}", encoder))
        rows.append(summarise(name, per_seed, info))
    rows.append(summarise("still pose", [score(PoseRow(StillPoses(), "still"), args.data, clips, args.work / "still", encoder)], {}))
    untrained = any(r["untrained"] for r in rows)
    meta = {"data": str(args.data), "test_clips": len(clips), "seeds": args.seeds, "code": git_info(),
            "protocol": Protocol().version, "gesture_encoder": rows[0]["gesture_encoder"],
            "untrained_note": "\n- † random-init gesture encoder: NOT a real FGD/Div." if untrained else ""}
    print(write_report(rows, meta, args.out).read_text())


if __name__ == "__main__":
    main()
