"""Inference: reference image + pose sequence -> any number of frames (AnimateAnyone's sampler).

The ReferenceNet and the image encoder run once, the PoseGuider once per frame; then the sampler of
``inference.sampler`` (DDIM or another stock solver, on the checkpoint's own training schedule:
:mod:`mmgt.stage2.samplers`) with classifier-free guidance (unconditional branch: zero
CLIP token, no reference features; the pose stays) over overlapping context windows
(``context_frames`` with ``context_overlap``), the windows' predictions averaged per frame in latent
space at every step. Windows are denoised ``window_batch`` at a time. Seeded: the same inputs and
seed give the same frames.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from diffusers import DDIMScheduler
from torch import Tensor
from tqdm import tqdm

from mmgt.stage2.checkpoint import load_model
from mmgt.stage2.config import InferenceConfig
from mmgt.stage2.data import pose_images, to_model_images
from mmgt.stage2.model import Stage2Model
from mmgt.stage2.samplers import make_sampler


def context_windows(n_frames: int, size: int, overlap: int) -> list[list[int]]:
    """Frame indices of windows of ``size`` frames stepping by ``size - overlap``; the last one ends at the last frame."""
    if n_frames <= size:
        return [list(range(n_frames))]
    stride = size - overlap
    starts = list(range(0, n_frames - size + 1, stride))
    if starts[-1] + size < n_frames:
        starts.append(n_frames - size)
    return [list(range(s, s + size)) for s in starts]


def blend_windows(predict: Callable[[Tensor, list[list[int]]], Tensor], latents: Tensor, windows: list[list[int]],
                  batch: int) -> Tensor:
    """Per-frame mean of ``predict`` over the windows covering each frame.

    ``latents`` is ``(1, C, T, h, w)``; ``predict(x, chunk)`` maps ``(n, C, F, h, w)`` window latents
    (the windows ``chunk``) to predictions of the same shape.
    """
    total = torch.zeros_like(latents)
    count = torch.zeros(latents.shape[2], device=latents.device, dtype=latents.dtype)
    for i in range(0, len(windows), batch):
        chunk = windows[i:i + batch]
        pred = predict(torch.cat([latents[:, :, w] for w in chunk]), chunk)
        for j, w in enumerate(chunk):
            total[:, :, w] += pred[j:j + 1]
            count[w] += 1
    return total / count[None, None, :, None, None]


class Stage2Pipeline:
    def __init__(self, model: Stage2Model, scheduler: DDIMScheduler, config: InferenceConfig | None = None):
        self.model, self.scheduler = model.eval(), scheduler
        self.config = config or model.cfg.inference
        self.sampler = make_sampler(self.config.sampler, scheduler)

    @classmethod
    def from_folder(cls, folder: str | Path, device: str = "cpu", **overrides) -> Stage2Pipeline:
        """A saved model folder (:mod:`mmgt.stage2.checkpoint`); ``overrides`` replace inference settings."""
        model, scheduler, _ = load_model(folder, device)
        return cls(model, scheduler, replace(model.cfg.inference, **overrides))

    def prepare_windows(self, chunk: list[list[int]]) -> None:
        """Per-frame conditions besides the pose for the next denoiser call on the windows ``chunk``
        (rows: unconditional windows, then conditional ones); the backbone has none (MMGT: audio, masks)."""

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @torch.no_grad()
    def __call__(self, ref_image: np.ndarray, poses: np.ndarray, seed: int = 0, progress: bool = False) -> np.ndarray:
        """``(H, W, 3)`` uint8 reference + ``(T, 134, 3)`` pixel keypoints of that frame -> ``(T, R, R, 3)`` uint8."""
        m, cfg, res = self.model, self.config, self.model.cfg.resolution
        device, n = self.device, len(poses)
        ref = to_model_images(ref_image[None], res).to(device)
        clip = m.clip_embeds(ref)
        context = torch.cat([torch.zeros_like(clip), clip])  # (uncond, cond)
        keep = torch.tensor([False, True], device=device)
        references = m.reference(m.encode_images(ref).repeat(2, 1, 1, 1), context)
        pose = pose_images(poses, (ref_image.shape[1], ref_image.shape[0]), res).to(device)
        pose_features = torch.cat([m.pose_guider(pose[:, i:i + 16].transpose(0, 1)) for i in range(0, n, 16)])

        def predict(x: Tensor, chunk: list[list[int]], t: Tensor) -> Tensor:
            k = len(chunk)
            self.prepare_windows(chunk)
            feats = torch.cat([pose_features[w] for w in chunk])
            out = m.denoise(torch.cat([x, x]), t, torch.cat([feats, feats]), context.repeat_interleave(k, 0),
                            {p: f.repeat_interleave(k, 0) for p, f in references.items()}, keep.repeat_interleave(k))
            uncond, cond = out.chunk(2)
            return uncond + cfg.guidance * (cond - uncond)

        vae_factor = m.cfg.vae.downsample
        shape = (1, m.cfg.vae.latent_channels, n, res // vae_factor, res // vae_factor)
        generator = torch.Generator("cpu").manual_seed(seed)
        latents = torch.randn(shape, generator=generator).to(device) * self.sampler.init_noise_sigma
        windows = context_windows(n, cfg.context_frames, cfg.context_overlap)
        self.sampler.set_timesteps(cfg.steps, device=device)
        for t in tqdm(self.sampler.timesteps, desc="denoise", disable=not progress):
            eps = blend_windows(lambda x, chunk: predict(x, chunk, t), latents, windows, cfg.window_batch)
            latents = self.sampler.step(eps, t, latents).prev_sample
        frames = torch.cat([m.decode_latents(latents[0, :, i:i + 8].transpose(0, 1)) for i in range(0, n, 8)])
        return ((frames + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
