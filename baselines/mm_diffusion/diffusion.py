"""MM-Diffusion's Gaussian diffusion on diffusers' stock ``DDIMScheduler``: linear betas, epsilon prediction.

Training noises video and audio at one shared timestep and scores both noise predictions (MSE each,
summed). Sampling is DDIM with a configurable step count and eta (eta = 1 over all training steps is
the release's ancestral DDPM); every random draw comes from the caller's ``torch.Generator``.

Audio-conditioned generation uses the replacement method: the audio branch's state is never
denoised; before every step it is set to the real audio forward-noised to that step's level,
``sqrt(abar_t) a0 + sqrt(1 - abar_t) eps_a``, with one ``eps_a`` drawn at the start (so the audio
follows the deterministic DDIM path of the real waveform), and the video is denoised against it.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from diffusers import DDIMScheduler
from torch import Tensor

from baselines.mm_diffusion.config import DiffusionConfig
from baselines.mm_diffusion.model import CoupledUNet

StepHook = Callable[[int, Tensor, Tensor], None]  # (t, video_t, audio_t) before each model call


def scheduler(cfg: DiffusionConfig) -> DDIMScheduler:
    """Linear betas, epsilon prediction; ``trailing`` DDIM times start at t = T - 1.

    Each step clips its predicted x0 to [-1, 1], as the release samples (guided-diffusion's
    ``clip_denoised=True``): near t = T, x0 = (x_t - sqrt(1 - abar) eps) / sqrt(abar) multiplies the
    eps error by 1 / sqrt(abar_T) ~ 150, and without the clip that error survives every later step
    (a tiny model's samples end as noise of std ~9). Training's forward noising is unaffected.
    """
    return DDIMScheduler(
        num_train_timesteps=cfg.train_steps, beta_start=cfg.beta_start, beta_end=cfg.beta_end, beta_schedule="linear",
        prediction_type="epsilon", clip_sample=True, clip_sample_range=1.0, set_alpha_to_one=True, timestep_spacing="trailing",
    )


def q_sample(sched: DDIMScheduler, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
    """``sqrt(abar_t) x0 + sqrt(1 - abar_t) noise`` (``t`` per sample or one scalar)."""
    return sched.add_noise(x0, noise, t.expand(x0.shape[0]) if t.ndim == 0 else t)


def draw(sched: DDIMScheduler, x: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
    """A training timestep per sample and noise shaped like ``x``."""
    t = torch.randint(0, sched.config.num_train_timesteps, (x.shape[0],), generator=generator, device=x.device)
    return t, torch.randn(x.shape, generator=generator, device=x.device)


def coupled_loss(model: CoupledUNet, sched: DDIMScheduler, video: Tensor, audio: Tensor,
                 generator: torch.Generator | None = None) -> tuple[Tensor, dict[str, float]]:
    """Epsilon MSE of both branches at one random timestep per sample."""
    t, nv = draw(sched, video, generator)
    na = torch.randn(audio.shape, generator=generator, device=audio.device)
    ev, ea = model(q_sample(sched, video, t, nv), q_sample(sched, audio, t, na), t)
    lv, la = F.mse_loss(ev, nv), F.mse_loss(ea, na)
    return lv + la, {"video": float(lv.detach()), "audio": float(la.detach())}


def sampling_scheduler(cfg: DiffusionConfig, steps: int) -> DDIMScheduler:
    sched = scheduler(cfg)
    sched.set_timesteps(steps)
    return sched


@torch.no_grad()
def sample(
    model: CoupledUNet, cfg: DiffusionConfig, n: int, generator: torch.Generator,
    audio: Tensor | None = None, on_step: StepHook | None = None,
) -> tuple[Tensor, Tensor]:
    """Sample ``n`` (video, audio) pairs; with ``audio`` ``(n, 1, L)`` given, video conditioned on it by replacement."""
    m = model.cfg
    dev = next(model.parameters()).device
    sched = sampling_scheduler(cfg, cfg.sample_steps)
    video = torch.randn((n, m.frames, 3, m.size, m.size), generator=generator, device=dev)
    noise_a = torch.randn((n, 1, m.audio_samples), generator=generator, device=dev)
    a = noise_a
    for t in sched.timesteps:
        if audio is not None:
            a = q_sample(sched, audio, t, noise_a)
        if on_step is not None:
            on_step(int(t), video, a)
        ev, ea = model(video, a, t.expand(n).to(dev))
        video = sched.step(ev, t, video, eta=cfg.eta, generator=generator).prev_sample
        if audio is None:
            a = sched.step(ea, t, a, eta=cfg.eta, generator=generator).prev_sample
    return video, (audio if audio is not None else a)
