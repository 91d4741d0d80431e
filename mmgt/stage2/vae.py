"""The tiny preset's own AutoencoderKL, trained on the split's frames (no pretrained VAE on CPU presets).

Loss: L1 + MSE reconstruction and a small KL term, on random crops (the VAE is fully convolutional;
crops keep CPU steps short). After training, ``scaling_factor`` is set to 1 / std of the train
latents (SD's 0.18215 was chosen the same way) and the reconstruction PSNR on the test clips is
measured and written beside the model (``vae/metrics.json``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from accelerate.utils import set_seed
from diffusers import AutoencoderKL
from tqdm import tqdm

from mmgt.data.layout import Split
from mmgt.stage2.config import Stage2Config
from mmgt.stage2.data import to_model_images
from mmgt.stage2.model import build_vae
from mmgt.video_io import atomic_path


def load_frames(root: str | Path, split: str, resolution: int, per_clip: int) -> torch.Tensor:
    """``per_clip`` evenly spaced frames of every clip of ``split`` as ``(N, 3, R, R)`` in [-1, 1]."""
    images = []
    for clip in Split(root).clips(split):
        frames = clip.frames()
        keep = np.linspace(0, len(frames) - 1, per_clip).round().astype(int)
        images.append(to_model_images(frames[keep], resolution))
    return torch.cat(images)


@torch.no_grad()
def reconstruct(vae: AutoencoderKL, images: torch.Tensor) -> torch.Tensor:
    """``images`` in [-1, 1] encoded (posterior mean) and decoded, clamped to [-1, 1]."""
    return vae.decode(vae.encode(images).latent_dist.mean).sample.clamp(-1, 1)


@torch.no_grad()
def reconstruction_psnr(vae: AutoencoderKL, images: torch.Tensor, batch: int = 8) -> float:
    """Mean PSNR (dB, 8-bit peak) of ``images`` in [-1, 1] through the VAE (posterior mean)."""
    values = []
    for i in range(0, len(images), batch):
        x = images[i:i + batch]
        y = reconstruct(vae, x)
        mse = (((y - x) * 127.5).round() ** 2).mean(dim=(1, 2, 3)).clamp_min(1e-10)
        values.append(10 * torch.log10(255.0 ** 2 / mse))
    return float(torch.cat(values).mean())


def train_vae(cfg: Stage2Config, data: str | Path, out: str | Path, progress: bool = True) -> dict:
    """Train the preset's AutoencoderKL on the train frames; save it to ``out`` and return its metrics."""
    opts = cfg.train.vae
    set_seed(cfg.train.seed)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    train = load_frames(data, "train", cfg.resolution, opts.frames_per_clip)
    vae = build_vae(cfg).train()
    optimizer = torch.optim.AdamW(vae.parameters(), lr=opts.lr, weight_decay=0.0)
    gen = torch.Generator().manual_seed(cfg.train.seed)
    bar = tqdm(range(opts.steps), desc="stage2 vae", disable=not progress)
    for _ in bar:
        idx = torch.randint(len(train), (opts.batch_size,), generator=gen)
        y0, x0 = (int(v) for v in torch.randint(cfg.resolution - opts.crop + 1, (2,), generator=gen))
        x = train[idx, :, y0:y0 + opts.crop, x0:x0 + opts.crop]
        posterior = vae.encode(x).latent_dist
        recon = vae.decode(posterior.sample()).sample
        loss = (recon - x).abs().mean() + ((recon - x) ** 2).mean() + opts.kl_weight * posterior.kl().mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        bar.set_postfix(loss=f"{float(loss.detach()):.4f}")
    vae.eval()
    with torch.no_grad():
        latents = torch.cat([vae.encode(train[i:i + 16]).latent_dist.mean for i in range(0, len(train), 16)])
    vae.register_to_config(scaling_factor=float(1.0 / latents.std()))
    metrics = {"psnr_test": reconstruction_psnr(vae, load_frames(data, "test", cfg.resolution, opts.frames_per_clip)),
               "psnr_train": reconstruction_psnr(vae, train[:: max(1, len(train) // 64)]),
               "scaling_factor": vae.config.scaling_factor, "steps": opts.steps, "preset": cfg.name}
    out = Path(out)
    vae.save_pretrained(out)
    with atomic_path(out / "metrics.json") as tmp:
        tmp.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    return metrics
