"""Shared Gaussian diffusion: EDGE's cosine schedule, DDIM times, clamping, guidance, determinism."""

from __future__ import annotations

import math

import numpy as np
import torch

from mmgt.stage1.diffusion import DiffusionConfig, GaussianDiffusion, guided_denoiser

from .helpers import inputs, make


def edge_cosine_betas(steps: int = 1000, s: float = 8e-3) -> np.ndarray:
    f = lambda t: math.cos((t / steps + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
    return np.array([min(1 - f(t + 1) / f(t), 0.999) for t in range(steps)])


def test_cosine_schedule_matches_edge():
    betas = GaussianDiffusion().scheduler.betas.double().numpy()
    assert np.allclose(betas, edge_cosine_betas(), rtol=1e-5, atol=1e-7)


def test_ddim_times_are_edge_trailing_times():
    d = GaussianDiffusion()
    d.scheduler.set_timesteps(50)
    assert d.scheduler.timesteps.tolist() == list(range(999, 0, -20))


def test_add_noise_is_closed_form():
    d = GaussianDiffusion()
    x0, noise, t = torch.randn(3, 5, 7), torch.randn(3, 5, 7), torch.tensor([0, 500, 999])
    ab = d.scheduler.alphas_cumprod[t].view(3, 1, 1).float()
    assert torch.allclose(d.add_noise(x0, noise, t), ab.sqrt() * x0 + (1 - ab).sqrt() * noise, atol=1e-6)


def test_sampling_returns_the_clamped_x0_of_a_fixed_denoiser():
    d = GaussianDiffusion(DiffusionConfig(sample_steps=10))
    target = torch.linspace(-2, 2, 24).view(1, 4, 6)
    out = d.sample(lambda x, t: target.expand_as(x), (2, 4, 6), torch.Generator().manual_seed(0))
    assert torch.allclose(out, target.clamp(-1, 1).expand(2, 4, 6), atol=1e-5)


def test_after_step_runs_between_steps_only():
    d = GaussianDiffusion(DiffusionConfig(sample_steps=7))
    calls = []
    d.sample(lambda x, t: torch.zeros_like(x), (1, 2, 3), torch.Generator().manual_seed(0), after_step=lambda x: calls.append(1) or x)
    assert len(calls) == 6


def test_ddim_is_deterministic_under_a_seed():
    model = make()
    _, _, ref, audio = inputs(b=1)
    d = GaussianDiffusion(DiffusionConfig(sample_steps=5))
    run = lambda seed: d.sample(guided_denoiser(model, ref, audio, 2.0), (1, 80, 402), torch.Generator().manual_seed(seed))  # noqa: E731
    a, b, c = run(3), run(3), run(4)
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)


def test_guidance_combines_conditional_and_unconditional():
    model = make()
    x, t, ref, audio = inputs()
    cond = model(x, t, ref, audio)
    uncond = model(x, t, ref, audio, torch.zeros(2, dtype=torch.bool))
    guided = guided_denoiser(model, ref, audio, 2.0)(x, t)
    assert torch.allclose(guided, uncond + 2.0 * (cond - uncond), atol=1e-5)
    assert torch.allclose(guided_denoiser(model, ref, audio, 1.0)(x, t), cond, atol=1e-6)
