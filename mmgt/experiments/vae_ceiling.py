"""``make vae-ceiling``: what a stage-2 model's VAE alone costs. Every test clip is encoded and decoded
by the VAE (no diffusion), written as a prediction folder with the clip's audio, and scored by
mmgt-eval like a table row: no stage-2 row rendered through that VAE can be expected to do better.

    python -m mmgt.experiments.vae_ceiling --data data/synth --out results/stage2
"""

from __future__ import annotations

import argparse
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from diffusers import AutoencoderKL
from tqdm import tqdm

from mmgt.checkpoints import default_checkpoint
from mmgt.data.layout import Split
from mmgt.errors import DataError
from mmgt.stage2.data import to_model_images
from mmgt.stage2.vae import reconstruct
from mmgt.video_io import SAMPLE_RATE, atomic_path, write_video
from mmgt.weights import sha256_file

BATCH = 16  # frames per VAE call
BAND = 16  # pixels: the frame's outer band, which uniformly drawn training crops rarely cover (docs/STAGE2.md)


@dataclass
class BorderError:
    """Float64 sums of the per-pixel absolute error (0-255, mean over channels) in the outer band and the centre."""

    band: int = BAND
    sums: np.ndarray = field(default_factory=lambda: np.zeros(2))  # band, centre
    counts: np.ndarray = field(default_factory=lambda: np.zeros(2))

    def update(self, recon: np.ndarray, target: np.ndarray) -> None:
        """``(T, H, W, 3)`` uint8 reconstruction and its target."""
        err = np.abs(recon.astype(np.float64) - target).mean(axis=-1)
        centre = np.zeros(err.shape[1:], bool)
        centre[self.band:-self.band, self.band:-self.band] = True
        for i, where in enumerate((~centre, centre)):
            self.sums[i] += err[:, where].sum()
            self.counts[i] += err.shape[0] * where.sum()

    def summary(self) -> dict:
        band, centre = self.sums / self.counts
        return {"band_px": self.band, "mae_band": float(band), "mae_centre": float(centre), "band_over_centre": float(band / centre)}


def reconstruct_split(vae: AutoencoderKL, data: Path, out: Path, progress: bool = True) -> BorderError:
    """``out/<clip_id>/video.mp4``: each test clip through ``vae`` at the clip's own size, audio muxed; returns the
    reconstruction's border-band error."""
    border = BorderError()
    for clip in tqdm(Split(data).clips("test"), desc="vae reconstruct", unit="clip", disable=not progress):
        frames = clip.frames()
        x = to_model_images(frames, frames.shape[1])
        y = torch.cat([reconstruct(vae, x[i:i + BATCH]) for i in range(0, len(x), BATCH)])
        y = ((y + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
        border.update(y, frames)
        write_video(out / clip.clip_id / "video.mp4", y, fps=clip.record.fps, audio=clip.audio(SAMPLE_RATE), sample_rate=SAMPLE_RATE)
    return border


def main(argv: list[str] | None = None) -> None:
    from eval.bootstrap import add_intervals
    from eval.config import EvalConfig
    from eval.run import evaluate
    from eval.table import results_summary

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/synth"))
    parser.add_argument("--model", type=Path, default=None, help="stage-2 model folder (default: the committed tiny one)")
    parser.add_argument("--runs", type=Path, default=Path("runs"), help="where the reconstructed videos and caches go")
    parser.add_argument("--out", type=Path, default=Path("results/stage2"))
    parser.add_argument("--metrics", default="fid,psnr,ssim,mouth_lmd,lip_audio,pose_error")
    args = parser.parse_args(argv)
    model = args.model or default_checkpoint("stage2/tiny", args.runs / "stage2" / "tiny" / "video" / "model")
    if model.is_absolute() and model.is_relative_to(Path.cwd()):
        model = model.relative_to(Path.cwd())  # recorded as the user would type it
    weights = model / "vae" / "diffusion_pytorch_model.safetensors"
    if not weights.is_file():
        raise DataError(weights, "no VAE weights (make train-stage2, or pass --model)")
    torch.manual_seed(0)
    vae = AutoencoderKL.from_pretrained(model / "vae", torch_dtype=torch.float32).eval()
    pred = args.runs / "methods" / "vae-reconstruction"
    if pred.exists():
        shutil.rmtree(pred)
    border = reconstruct_split(vae, args.data, pred).summary()
    config = EvalConfig(pred=pred, gt=args.data, metrics=tuple(args.metrics.split(",")), cache_dir=args.runs / "cache" / "eval")
    results, states, _ = evaluate(config)
    add_intervals(results, states)
    results["vae"] = {"folder": str(model / "vae"), "sha256": sha256_file(weights), "border": border}
    args.out.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.out / "vae_ceiling.json") as tmp:
        tmp.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    md = (f"# VAE ceiling of the tiny stage-2 preset\n\nThe {len(Split(args.data).clips('test'))} test clips of "
          f"`{args.data}` encoded and decoded by `{model / 'vae'}` (sha256 {results['vae']['sha256'][:12]}), no diffusion, "
          f"scored by mmgt-eval (protocol v{results['protocol']['version']}, code {results['package']['git']['commit'][:12]}). "
          "Every stage-2 row of Tables I-III renders through this VAE. Measured on the embedded synthetic split: "
          "not comparable to the paper's PATS numbers.\n\n" + results_summary(results) + "\n\n"
          f"Border: mean absolute error per pixel (0-255) {border['mae_band']:.2f} in the outer {border['band_px']}-pixel "
          f"band against {border['mae_centre']:.2f} in the centre (ratio {border['band_over_centre']:.2f}; a VAE whose "
          "training rarely saw the frame's edges smears them).\n")
    with atomic_path(args.out / "vae_ceiling.md") as tmp:
        tmp.write_text(md)
    print(args.out / "vae_ceiling.md")


if __name__ == "__main__":
    main()
