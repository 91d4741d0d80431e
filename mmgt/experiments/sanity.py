"""Sanity checks of the harness on a split: GT degraded in known ways must score monotonically worse.

``python -m mmgt.experiments.sanity --data data/synth`` writes degraded copies of the test clips (Gaussian
noise of increasing strength; frames shuffled in time; the picture shifted 0.8 s against the speech) under ``runs/sanity/``, evaluates each against
the GT, and writes ``results/sanity/sanity.md`` + ``sanity.json``. A second sweep scores the half-body papers'
metrics (``eval.config.HUMAN_METRICS``) under the damage each should see: blurred hands (HKC/HKV), another
speaker's clip (CSIM), motion shifted in time (beat alignment), keypoint noise (jitter); it writes
``results/sanity/human.md`` + ``human.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import typer

from eval.config import HUMAN_METRICS, EvalConfig
from eval.results import UNTRAINED_MARK
from eval.run import evaluate
from mmgt import keypoints as K
from mmgt.data.layout import VIDEO, Clip, Split
from mmgt.methods.base import Generation
from mmgt.methods.runner import write_clip_output

NOISE_LEVELS = (4.0, 16.0, 48.0)  # std of additive Gaussian noise, in 0..255 units
SHIFT_SECONDS = 0.8  # picture (and keypoints) rolled against the speech
HAND_BLUR = (2.0, 4.0, 8.0)  # Gaussian blur std (pixels) inside each hand's box
MOTION_SHIFTS = (0.08, 0.16, 0.32)  # seconds (2, 4, 8 frames)
KEYPOINT_NOISE = (0.5, 1.0, 2.0)  # std of Gaussian noise on the keypoints' x, y (pixels)
HAND_MARGIN = 12  # pixels around a hand's keypoints that the blur covers


def blur_hands(frames: np.ndarray, kp: np.ndarray, sigma: float) -> np.ndarray:
    """``frames`` (float) with a Gaussian blur of ``sigma`` px inside each seen hand's keypoint box (plus a margin)."""
    from scipy.ndimage import gaussian_filter

    out = frames.copy()
    height, width = frames.shape[1:3]
    for t in range(len(frames)):
        for hand in (K.LEFT_HAND, K.RIGHT_HAND):
            points = kp[t, list(hand)]
            points = points[points[:, 2] > K.SCORE_THRESHOLD]
            if not len(points):
                continue
            x0, y0 = np.maximum(points[:, :2].min(axis=0).astype(int) - HAND_MARGIN, 0)
            x1, y1 = np.minimum(points[:, :2].max(axis=0).astype(int) + HAND_MARGIN, (width, height))
            out[t, y0:y1, x0:x1] = gaussian_filter(frames[t, y0:y1, x0:x1], (sigma, sigma, 0))
    return out


@dataclass(frozen=True)
class Degradation:
    """GT degraded in a known way: Gaussian noise of ``sigma``, frames shuffled in time, the picture rolled by
    ``shift`` seconds against the speech (keypoints move with the picture), hands blurred (``hand_blur`` px),
    Gaussian noise of ``keypoint_noise`` px on the keypoint files, or each clip replaced by another speaker's
    (``other_speaker``: the next speaker's clip of the same index, the clip's own audio). Nothing set: GT itself."""

    sigma: float = 0.0
    shuffle: bool = False
    shift: float = 0.0
    hand_blur: float = 0.0
    keypoint_noise: float = 0.0
    other_speaker: bool = False
    seed: int = 0

    @property
    def name(self) -> str:
        if self.shuffle:
            return "shuffled"
        if self.other_speaker:
            return "other-speaker"
        for value, label in ((self.shift, "shift{:g}s"), (self.hand_blur, "handblur{:g}"), (self.keypoint_noise, "kpnoise{:g}")):
            if value:
                return label.format(value)
        return f"noise{self.sigma:g}" if self.sigma else "gt"

    def apply(self, clip: Clip, clips: list[Clip] | None = None) -> Generation:
        """``clip`` degraded; ``clips`` (the split's test clips) supply another speaker's clip."""
        rng = np.random.default_rng([self.seed, int.from_bytes(clip.clip_id.encode()[:8], "little")])
        source = other_speakers_clip(clip, clips or [clip]) if self.other_speaker else clip
        frames, kp = source.frames().astype(np.float32), source.keypoints()
        if self.shuffle:
            order = rng.permutation(len(frames))
            frames, kp = frames[order], kp[order]
        if self.shift:
            steps = round(self.shift * clip.record.fps)
            frames, kp = np.roll(frames, steps, axis=0), np.roll(kp, steps, axis=0)
        if self.hand_blur:
            frames = blur_hands(frames, kp, self.hand_blur)
        if self.sigma:
            frames = frames + rng.normal(0, self.sigma, frames.shape)
        if self.keypoint_noise:
            kp = kp.copy()
            kp[..., :2] += rng.normal(0, self.keypoint_noise, kp[..., :2].shape).astype(np.float32)
        return Generation(np.clip(np.rint(frames), 0, 255).astype(np.uint8), kp)

    def write(self, clips: list[Clip], out: Path) -> Path:
        """Degraded copies of ``clips`` in the split layout under ``out`` (complete clips kept)."""
        for clip in clips:
            if not (out / clip.clip_id / VIDEO).is_file():
                write_clip_output(clip, self.apply(clip, clips), out / clip.clip_id)
        return out


def other_speakers_clip(clip: Clip, clips: list[Clip]) -> Clip:
    """The clip of the next speaker (sorted, cyclic) with the same index among its speaker's clips."""
    by_speaker: dict[str, list[Clip]] = {}
    for c in sorted(clips, key=lambda c: c.clip_id):
        by_speaker.setdefault(c.record.speaker, []).append(c)
    speakers = sorted(by_speaker)
    if len(speakers) < 2:
        raise ValueError("another speaker's clip needs at least two speakers in the split")
    other = by_speaker[speakers[(speakers.index(clip.record.speaker) + 1) % len(speakers)]]
    return other[by_speaker[clip.record.speaker].index(clip) % len(other)]


def variants() -> list[Degradation]:
    return [Degradation(sigma=s) for s in NOISE_LEVELS] + [Degradation(shuffle=True), Degradation(shift=SHIFT_SECONDS)]


def human_variants() -> list[Degradation]:
    """GT, then each half-body metric's damage in increasing strength."""
    return ([Degradation()] + [Degradation(hand_blur=b) for b in HAND_BLUR] + [Degradation(other_speaker=True)]
            + [Degradation(shift=s) for s in MOTION_SHIFTS] + [Degradation(keypoint_noise=n) for n in KEYPOINT_NOISE])


HUMAN_COLUMNS = [("human", m) for m in ("hkc_mp", "hkv_mp", "csim_dlib", "ba", "jitter_body", "jitter_hand")]
# each human output, the variants (in increasing strength) that should make it worse, and which way is better
HUMAN_CHECKS = (
    ("hkc_mp", [f"handblur{b:g}" for b in HAND_BLUR], "higher"),
    ("hkv_mp", [f"handblur{b:g}" for b in HAND_BLUR], "higher"),
    ("csim_dlib", ["other-speaker"], "higher"),
    ("ba", [f"shift{s:g}s" for s in MOTION_SHIFTS], "higher"),
    ("jitter_body", [f"kpnoise{n:g}" for n in KEYPOINT_NOISE], "lower"),
    ("jitter_hand", [f"kpnoise{n:g}" for n in KEYPOINT_NOISE], "lower"),
)


def monotone(res: dict[str, dict], out: str, names: list[str], better: str) -> bool:
    """Whether GT scores best and each stronger variant of ``names`` strictly worse than the one before."""
    values = [res[n].get("human", {}).get(out) for n in ["gt", *names]]
    if any(v is None for v in values):
        return False
    sign = 1 if better == "higher" else -1
    return all(sign * (a - b) > 0 for a, b in zip(values, values[1:]))


def human_checks(res: dict[str, dict]) -> list[list[str]]:
    """One line per check of :data:`HUMAN_CHECKS`: output, variants, monotone yes/no."""
    return [[out, " > ".join(["gt", *names]), "yes" if monotone(res, out, names, better) else "no"]
            for out, names, better in HUMAN_CHECKS]


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


INTRO = (f"Noise std in 0-255 units; `shuffled` permutes frames in time; `shift{SHIFT_SECONDS:g}s` rolls the picture "
         "against the speech.")
HUMAN_INTRO = ("`handblur<s>`: Gaussian blur of std s px inside each hand's keypoint box; `other-speaker`: each clip replaced "
               "by another speaker's; `shift<t>s`: picture and keypoints rolled t s against the speech; `kpnoise<s>`: "
               "Gaussian noise of std s px on the keypoint files.")


def render(res: dict[str, dict], data: Path, cols: list[tuple[str, str]], intro: str = INTRO) -> str:
    from tabulate import tabulate

    rows = [[name] + [cell(v, r, m) for r, m in cols] for name, v in res.items()]
    marks = sorted({u for v in res.values() for u in v["untrained"]})
    text = (f"# Harness sanity on `{data}` (GT degraded)\n\n{intro}\n\n"
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
    frames: bool = typer.Option(True, "--frames/--no-frames", help="The FID/FVD/KVD/PSNR/SSIM/LPIPS sweep (sanity.md)."),
    human: bool = typer.Option(True, "--human/--no-human", help="The half-body metrics' sweep (human.md)."),
) -> None:
    """Evaluate degraded GT and write the sanity reports."""
    out.mkdir(parents=True, exist_ok=True)
    if frames:
        base = EvalConfig(pred=data, gt=data, allow_untrained=allow_untrained, cache_dir=runs / "cache",
                          metrics=("fid", "fvd", "kvd", "psnr", "ssim", "lpips"))
        res = run(data, runs, base)
        (out / "sanity.json").write_text(json.dumps(res, indent=2) + "\n")
        cols = [(r, m) for r in ("full", "face") for m in ("fid", "fvd", "kvd", "psnr", "ssim", "lpips")]
        text = render(res, data, cols)
        (out / "sanity.md").write_text(text)
        print(text)
    if human:
        base = EvalConfig(pred=data, gt=data, cache_dir=runs / "cache", metrics=HUMAN_METRICS, regions=("full",))
        res = run(data, runs, base, human_variants())
        (out / "human.json").write_text(json.dumps(res, indent=2) + "\n")
        from tabulate import tabulate

        text = render(res, data, HUMAN_COLUMNS, HUMAN_INTRO) + "\nGT first, then monotonically worse:\n\n" + tabulate(
            human_checks(res), headers=["output", "variants", "monotone"], tablefmt="github") + "\n"
        (out / "human.md").write_text(text)
        print(text)


if __name__ == "__main__":
    typer.run(main)
