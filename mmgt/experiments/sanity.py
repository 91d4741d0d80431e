"""Sanity checks of the harness on a split: GT degraded in known ways must score monotonically worse.

``python -m mmgt.experiments.sanity --data data/synth`` writes degraded copies of the test clips (Gaussian
noise of increasing strength; frames shuffled in time; the picture shifted 0.8 s against the speech) under ``runs/sanity/``, evaluates each against
the GT, and writes ``results/sanity/sanity.md`` + ``sanity.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import typer

from eval.config import EvalConfig
from eval.results import UNTRAINED_MARK
from eval.run import evaluate
from mmgt.data.layout import VIDEO, Clip, Split
from mmgt.methods.base import Generation
from mmgt.methods.runner import write_clip_output

NOISE_LEVELS = (4.0, 16.0, 48.0)  # std of additive Gaussian noise, in 0..255 units
SHIFT_SECONDS = 0.8  # picture (and keypoints) rolled against the speech


@dataclass(frozen=True)
class Degradation:
    """GT degraded in a known way: Gaussian noise of ``sigma``, frames shuffled in time, or the picture
    rolled by ``shift`` seconds against the speech (keypoints move with the picture)."""

    sigma: float = 0.0
    shuffle: bool = False
    shift: float = 0.0
    seed: int = 0

    @property
    def name(self) -> str:
        if self.shuffle:
            return "shuffled"
        return f"shift{self.shift:g}s" if self.shift else f"noise{self.sigma:g}"

    def apply(self, clip: Clip) -> Generation:
        rng = np.random.default_rng([self.seed, int.from_bytes(clip.clip_id.encode()[:8], "little")])
        frames, kp = clip.frames().astype(np.float32), clip.keypoints()
        if self.shuffle:
            order = rng.permutation(len(frames))
            frames, kp = frames[order], kp[order]
        if self.shift:
            steps = round(self.shift * clip.record.fps)
            frames, kp = np.roll(frames, steps, axis=0), np.roll(kp, steps, axis=0)
        if self.sigma:
            frames = frames + rng.normal(0, self.sigma, frames.shape)
        return Generation(np.clip(np.rint(frames), 0, 255).astype(np.uint8), kp)

    def write(self, clips: list[Clip], out: Path) -> Path:
        """Degraded copies of ``clips`` in the split layout under ``out`` (complete clips kept)."""
        for clip in clips:
            if not (out / clip.clip_id / VIDEO).is_file():
                write_clip_output(clip, self.apply(clip), out / clip.clip_id)
        return out


def variants() -> list[Degradation]:
    return [Degradation(sigma=s) for s in NOISE_LEVELS] + [Degradation(shuffle=True), Degradation(shift=SHIFT_SECONDS)]


def run(data: Path, runs: Path, base: EvalConfig, degradations: list[Degradation] | None = None) -> dict[str, dict]:
    clips = Split(data).clips("test")
    out = {}
    for d in degradations or variants():
        pred = d.write(clips, runs / d.name)
        results, _, _ = evaluate(replace(base, pred=pred, gt=data))
        out[d.name] = {r: {m: e["value"] for m, e in outs.items()} for r, outs in results["metrics"].items()}
        out[d.name]["untrained"] = sorted(f"{r}/{m}" for r, outs in results["metrics"].items() for m, e in outs.items() if e.get("untrained"))
    return out


def cell(variant: dict, region: str, metric: str) -> str:
    """A value, marked when a random-init extractor produced it."""
    value = variant.get(region, {}).get(metric)
    if value is None:
        return "–"
    return f"{value:.4g}" + (UNTRAINED_MARK if f"{region}/{metric}" in variant["untrained"] else "")


def render(res: dict[str, dict], data: Path, cols: list[tuple[str, str]]) -> str:
    from tabulate import tabulate

    rows = [[name] + [cell(v, r, m) for r, m in cols] for name, v in res.items()]
    marks = sorted({u for v in res.values() for u in v["untrained"]})
    text = (f"# Harness sanity on `{data}` (GT degraded)\n\nNoise std in 0-255 units; `shuffled` permutes frames in time; "
            f"`shift{SHIFT_SECONDS:g}s` rolls the picture against the speech.\n\n"
            + tabulate(rows, headers=["variant"] + [f"{r} {m}" for r, m in cols], tablefmt="github", disable_numparse=True) + "\n")
    if marks:
        text += (f"\n{UNTRAINED_MARK} computed with a random-init extractor ({', '.join(marks)}): NOT a real metric value; "
                 "only the ordering between variants is meaningful.\n")
    return text


def main(
    data: Path = typer.Option(Path("data/synth")),
    runs: Path = typer.Option(Path("runs/sanity")),
    out: Path = typer.Option(Path("results/sanity")),
    allow_untrained: bool = typer.Option(EvalConfig.allow_untrained, "--allow-untrained-extractors/--require-weights",
                                         help="Random-init extractors where weights are missing (values marked †)."),
) -> None:
    """Evaluate degraded GT and write the sanity report."""
    base = EvalConfig(pred=data, gt=data, allow_untrained=allow_untrained, cache_dir=runs / "cache",
                      metrics=("fid", "fvd", "kvd", "psnr", "ssim", "lpips"))
    res = run(data, runs, base)
    out.mkdir(parents=True, exist_ok=True)
    (out / "sanity.json").write_text(json.dumps(res, indent=2) + "\n")
    cols = [(r, m) for r in ("full", "face") for m in ("fid", "fvd", "kvd", "psnr", "ssim", "lpips")]
    text = render(res, data, cols)
    (out / "sanity.md").write_text(text)
    print(text)


if __name__ == "__main__":
    typer.run(main)
