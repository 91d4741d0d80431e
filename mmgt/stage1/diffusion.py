"""Gaussian diffusion shared by SMGA and EDGE, on diffusers' stock DDIM scheduler.

EDGE's recipe maps one-to-one onto ``DDIMScheduler``: ``squaredcos_cap_v2`` is the cosine schedule
with s = 8e-3 and betas capped at 0.999; ``prediction_type="sample"`` is x0 prediction;
``clip_sample`` clamps x0 to [-1, 1] and ``use_clipped_model_output`` re-derives the noise from the
clamped x0 (as EDGE does); ``timestep_spacing="trailing"`` gives EDGE's DDIM times 999, 979, ..., 19
and a final jump to t = -1 (alpha = 1), which returns the clamped x0 itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from diffusers import DDIMScheduler
from torch import Tensor

from mmgt.stage1.smga import SMGA

Denoiser = Callable[[Tensor, Tensor], Tensor]  # (x_t, t) -> x0


@dataclass(frozen=True)
class DiffusionConfig:
    train_steps: int = 1000
    sample_steps: int = 50
    eta: float = 1.0
    guidance: float = 2.0
    clip: float = 1.0
    cond_drop_prob: float = 0.25


class GaussianDiffusion:
    """Forward noising for training and DDIM sampling with an arbitrary x0 denoiser."""

    def __init__(self, cfg: DiffusionConfig = DiffusionConfig()):
        self.cfg = cfg
        self.scheduler = DDIMScheduler(
            num_train_timesteps=cfg.train_steps,
            beta_schedule="squaredcos_cap_v2",
            prediction_type="sample",
            clip_sample=True,
            clip_sample_range=cfg.clip,
            set_alpha_to_one=True,
            timestep_spacing="trailing",
        )
        # DDIM with eta = 1 takes sqrt(1 - a_prev - sigma^2), which is >= 0 exactly but rounds below
        # zero in float32 at t = 999 (a = 2.4e-9) and turns the sample into NaN: keep the products in
        # float64 (0-d values, so the float32 samples stay float32)
        self.scheduler.alphas_cumprod = self.scheduler.alphas_cumprod.to(torch.float64)

    def add_noise(self, x0: Tensor, noise: Tensor, t: Tensor) -> Tensor:
        return self.scheduler.add_noise(x0, noise, t)

    def sample_timesteps(self, batch: int, generator: torch.Generator | None = None) -> Tensor:
        return torch.randint(0, self.cfg.train_steps, (batch,), generator=generator)

    @torch.no_grad()
    def sample(
        self, denoise: Denoiser, shape: tuple[int, ...], generator: torch.Generator | None = None,
        after_step: Callable[[Tensor], Tensor] | None = None, steps: int | None = None,
        device: torch.device | str = "cpu",
    ) -> Tensor:
        """DDIM from pure noise; ``after_step`` may rewrite the sample after every step but the last."""
        scheduler = self.scheduler
        scheduler.set_timesteps(steps or self.cfg.sample_steps)
        x = torch.randn(shape, generator=generator, device=device)
        timesteps = scheduler.timesteps
        for i, t in enumerate(timesteps):
            x0 = denoise(x, torch.full((shape[0],), int(t), dtype=torch.long, device=device))
            x = scheduler.step(x0, int(t), x, eta=self.cfg.eta, use_clipped_model_output=True, generator=generator).prev_sample
            if after_step is not None and i < len(timesteps) - 1:
                x = after_step(x)
        return x


def guided_denoiser(model: SMGA, ref: Tensor, audio: Tensor, guidance: float) -> Denoiser:
    """Classifier-free guidance ``uncond + w * (cond - uncond)`` as one batched forward.

    The audio conditioning (encoder, pooled vector, cross-attention keys/values of the audio tokens)
    is computed once, since it does not depend on the step; ``guidance == 1`` skips the
    unconditional branch.
    """
    tokens = model.encode_audio(audio)
    b = ref.shape[0]
    if guidance == 1.0:
        condition = model.condition(audio_tokens=tokens)
        return lambda x, t: model(x, t, ref, condition=condition)
    keep = torch.arange(2 * b, device=ref.device) < b
    ref2, condition = torch.cat([ref, ref]), model.condition(keep=keep, audio_tokens=torch.cat([tokens, tokens]))

    def denoise(x: Tensor, t: Tensor) -> Tensor:
        cond, uncond = model(torch.cat([x, x]), torch.cat([t, t]), ref2, condition=condition).chunk(2)
        return uncond + guidance * (cond - uncond)

    return denoise
