"""MM-Diffusion's per-frame super-resolution model: a conditional diffusion U-Net, low-res -> high-res.

As in the release (guided-diffusion's 64 -> 256 upsampler), the low-resolution frame is upsampled
bicubically to the output size and concatenated with the noisy high-resolution frame (6 input
channels); the U-Net predicts the noise. The U-Net is diffusers' stock ``UNet2DModel`` (ResNet
blocks, self-attention at ``attention_levels``). Being convolutional, it trains on random crops
(``crop``) and runs on whole frames. It uses the same linear schedule as the base model and samples
with DDIM (``sr_sample_steps``, ``sr_eta``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers import DDIMScheduler, UNet2DModel
from torch import Tensor

from baselines.mm_diffusion.config import DiffusionConfig, SRConfig
from baselines.mm_diffusion.diffusion import draw, sampling_scheduler


def build_sr(cfg: SRConfig) -> UNet2DModel:
    levels = range(len(cfg.channels))
    down = tuple("AttnDownBlock2D" if i in cfg.attention_levels else "DownBlock2D" for i in levels)
    up = tuple("AttnUpBlock2D" if i in cfg.attention_levels else "UpBlock2D" for i in reversed(levels))
    return UNet2DModel(
        sample_size=cfg.out_size, in_channels=6, out_channels=3, block_out_channels=cfg.channels,
        layers_per_block=cfg.layers_per_block, down_block_types=down, up_block_types=up,
        attention_head_dim=cfg.head_channels, norm_num_groups=cfg.norm_groups,
        add_attention=len(cfg.channels) - 1 in cfg.attention_levels, resnet_time_scale_shift="scale_shift",
    )


def upsample(low: Tensor, size: int) -> Tensor:
    return F.interpolate(low, size=(size, size), mode="bicubic", align_corners=False).clamp(-1, 1)


def random_crops(high: Tensor, low: Tensor, crop: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """Aligned random crops: ``crop`` pixels of each high-res frame, the matching window of its low-res frame."""
    scale = high.shape[-1] // low.shape[-1]
    cells = (high.shape[-1] - crop) // scale + 1
    ys, xs = torch.randint(0, cells, (2, high.shape[0]), generator=generator).tolist()
    c = crop // scale
    hi = torch.stack([h[:, y * scale : y * scale + crop, x * scale : x * scale + crop] for h, y, x in zip(high, ys, xs)])
    lo = torch.stack([l[:, y : y + c, x : x + c] for l, y, x in zip(low, ys, xs)])
    return hi, lo


def sr_loss(model: UNet2DModel, sched: DDIMScheduler, high: Tensor, low: Tensor,
            generator: torch.Generator | None = None) -> tuple[Tensor, dict[str, float]]:
    """Epsilon MSE on ``(B, 3, S, S)`` high-res frames given their ``(B, 3, s, s)`` low-res versions."""
    t, noise = draw(sched, high, generator)
    x_t = sched.add_noise(high, noise, t)
    pred = model(torch.cat([x_t, upsample(low, high.shape[-1])], dim=1), t).sample
    loss = F.mse_loss(pred, noise)
    return loss, {"sr": float(loss.detach())}


@torch.no_grad()
def super_resolve(model: UNet2DModel, cfg: DiffusionConfig, low: Tensor, size: int, generator: torch.Generator, batch: int = 8) -> Tensor:
    """``(N, 3, s, s)`` frames in [-1, 1] -> ``(N, 3, size, size)``, ``batch`` frames at a time."""
    sched = sampling_scheduler(cfg, cfg.sr_sample_steps)
    out = []
    for chunk in low.split(batch):
        cond = upsample(chunk, size)
        x = torch.randn(cond.shape, generator=generator, device=cond.device)
        for t in sched.timesteps:
            eps = model(torch.cat([x, cond], dim=1), t.expand(len(x)).to(x.device)).sample
            x = sched.step(eps, t, x, eta=cfg.sr_eta, generator=generator).prev_sample
        out.append(x.clamp(-1, 1))
    return torch.cat(out)
