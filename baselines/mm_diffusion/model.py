"""The coupled audio-video U-Net of MM-Diffusion (Ruan et al., CVPR 2023), in plain PyTorch.

Two U-Nets run side by side and share one timestep embedding: a video branch on ``(B, F, 3, H, W)``
with factorised convolutions (2D over each frame, then 1D over time) and spatial + temporal
self-attention, and an audio branch on the raw ``(B, 1, L)`` waveform with dilated 1D convolutions
(dilation ``2 ** (block % max_dilation)``), downsampled 4x whenever the video halves. At the rates in
``cross_attention`` the branches exchange information by random-shift multimodal attention (RS-MMA):
the audio is cut into one segment per frame; frame ``f``'s pixels attend to the audio segments
``f + r, ..., f + r + window - 1`` (indices modulo ``F``), and audio segment ``f`` to those frames'
pixels, with ``r`` drawn in ``[0, F - window]`` per call during training and ``0`` at eval. Both
branches predict the noise. Zero-initialised output projections, as in the release.
"""

from __future__ import annotations

import math
import random

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from baselines.mm_diffusion.config import CoupledConfig


def group_norm(ch: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(32, ch), ch)


def zero(module: nn.Module) -> nn.Module:
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


def timestep_embedding(t: Tensor, dim: int) -> Tensor:
    half = dim // 2
    freqs = torch.exp(-math.log(10000) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class VideoConv(nn.Module):
    """A 2D convolution on each frame followed by a 1D convolution over time at each pixel."""

    def __init__(self, c_in: int, c_out: int, k: int = 3):
        super().__init__()
        self.spatial = nn.Conv2d(c_in, c_out, k, padding=k // 2)
        self.temporal = nn.Conv1d(c_out, c_out, k, padding=k // 2)

    def forward(self, x: Tensor) -> Tensor:
        b, f, _, h, w = x.shape
        x = self.spatial(x.flatten(0, 1))
        c = x.shape[1]
        x = x.view(b, f, c, h, w).permute(0, 3, 4, 2, 1).reshape(b * h * w, c, f)
        return self.temporal(x).view(b, h, w, c, f).permute(0, 4, 3, 1, 2)


def per_frame(fn, x: Tensor) -> Tensor:
    """Apply a 2D module to every frame of ``(B, F, C, H, W)``."""
    y = fn(x.flatten(0, 1))
    return y.view(*x.shape[:2], *y.shape[1:])


class ResBlock(nn.Module):
    """Residual block on both branches, timestep as a shared scale-shift (FiLM) of both."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int, dilation: int, dropout: float):
        super().__init__()
        self.v_in, self.v_conv = group_norm(c_in), VideoConv(c_in, c_out)
        self.a_in, self.a_conv = group_norm(c_in), nn.Conv1d(c_in, c_out, 3, padding=dilation, dilation=dilation)
        self.emb = nn.Sequential(nn.SiLU(), nn.Linear(emb_dim, 2 * c_out))
        self.v_norm, self.a_norm = group_norm(c_out), group_norm(c_out)
        self.v_out = nn.Sequential(nn.SiLU(), nn.Dropout(dropout), zero(nn.Conv2d(c_out, c_out, 1)))
        self.a_out = nn.Sequential(nn.SiLU(), nn.Dropout(dropout), zero(nn.Conv1d(c_out, c_out, 1)))
        self.v_skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()
        self.a_skip = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, v: Tensor, a: Tensor, emb: Tensor, shift: int) -> tuple[Tensor, Tensor]:
        scale, bias = self.emb(emb).chunk(2, dim=-1)
        hv = self.v_conv(F.silu(per_frame(self.v_in, v)))
        hv = per_frame(self.v_norm, hv) * (1 + scale[:, None, :, None, None]) + bias[:, None, :, None, None]
        ha = self.a_norm(self.a_conv(F.silu(self.a_in(a)))) * (1 + scale[..., None]) + bias[..., None]
        return per_frame(self.v_skip, v) + per_frame(self.v_out, hv), self.a_skip(a) + self.a_out(ha)


def attend(q: Tensor, k: Tensor, v: Tensor, heads: int) -> Tensor:
    """Multi-head attention on ``(..., L, C)`` tokens."""
    split = lambda x: x.unflatten(-1, (heads, -1)).transpose(-3, -2)  # noqa: E731
    return F.scaled_dot_product_attention(split(q), split(k), split(v)).transpose(-3, -2).flatten(-2)


class SelfAttention(nn.Module):
    """Pre-norm self-attention over the last axis of ``(N, C, L)``, zero-initialised residual."""

    def __init__(self, ch: int, heads: int):
        super().__init__()
        self.heads, self.norm = heads, group_norm(ch)
        self.qkv, self.out = nn.Linear(ch, 3 * ch), zero(nn.Linear(ch, ch))

    def forward(self, x: Tensor) -> Tensor:
        q, k, v = self.qkv(self.norm(x).transpose(1, 2)).chunk(3, dim=-1)
        return x + self.out(attend(q, k, v, self.heads)).transpose(1, 2)


class VideoAttention(nn.Module):
    """Spatial self-attention within each frame, then temporal self-attention at each pixel."""

    def __init__(self, ch: int, heads: int):
        super().__init__()
        self.spatial, self.temporal = SelfAttention(ch, heads), SelfAttention(ch, heads)

    def forward(self, v: Tensor, a: Tensor, emb: Tensor, shift: int) -> tuple[Tensor, Tensor]:
        b, f, c, h, w = v.shape
        v = self.spatial(v.reshape(b * f, c, h * w)).view(b, f, c, h, w)
        v = self.temporal(v.permute(0, 3, 4, 2, 1).reshape(b * h * w, c, f))
        return v.view(b, h, w, c, f).permute(0, 4, 3, 1, 2), a


class CrossModalAttention(nn.Module):
    """RS-MMA: each frame attends to a window of audio segments and each audio segment to frames."""

    def __init__(self, ch: int, heads: int, window: int):
        super().__init__()
        self.heads, self.window = heads, window
        self.v_norm, self.a_norm = group_norm(ch), group_norm(ch)
        self.v_qkv, self.a_qkv = nn.Linear(ch, 3 * ch), nn.Linear(ch, 3 * ch)
        self.v_out, self.a_out = zero(nn.Linear(ch, ch)), zero(nn.Linear(ch, ch))

    def forward(self, v: Tensor, a: Tensor, emb: Tensor, shift: int) -> tuple[Tensor, Tensor]:
        b, f, c, h, w = v.shape
        seg = a.shape[-1] // f
        vt = self.v_norm(v.permute(0, 2, 1, 3, 4).reshape(b, c, -1)).view(b, c, f, h * w).permute(0, 2, 3, 1)
        at = self.a_norm(a).view(b, c, f, seg).permute(0, 2, 3, 1)  # (B, F, seg, C)
        vq, vk, vv = self.v_qkv(vt).chunk(3, dim=-1)
        aq, ak, av = self.a_qkv(at).chunk(3, dim=-1)
        idx = (torch.arange(f, device=v.device)[:, None] + shift + torch.arange(self.window, device=v.device)) % f
        window = lambda x: x[:, idx].flatten(2, 3)  # (B, F, window * tokens, C)  # noqa: E731
        v_h = self.v_out(attend(vq, window(ak), window(av), self.heads))  # (B, F, h*w, C)
        a_h = self.a_out(attend(aq, window(vk), window(vv), self.heads))  # (B, F, seg, C)
        v = v + v_h.permute(0, 1, 3, 2).reshape(b, f, c, h, w)
        return v, a + a_h.permute(0, 3, 1, 2).reshape(b, c, -1)


class Resample(nn.Module):
    """Halve (or double) the frames' size and divide (or multiply) the audio length by ``audio_factor``."""

    def __init__(self, ch: int, audio_factor: int, up: bool):
        super().__init__()
        self.up, self.factor = up, audio_factor
        if up:
            self.v, self.a = nn.Conv2d(ch, ch, 3, padding=1), nn.Conv1d(ch, ch, 3, padding=1)
        else:
            self.v, self.a = nn.Conv2d(ch, ch, 3, stride=2, padding=1), nn.Conv1d(ch, ch, audio_factor, stride=audio_factor)

    def forward(self, v: Tensor, a: Tensor, emb: Tensor, shift: int) -> tuple[Tensor, Tensor]:
        if self.up:
            v = per_frame(lambda x: F.interpolate(x, scale_factor=2, mode="nearest"), v)
            a = F.interpolate(a, scale_factor=self.factor, mode="nearest")
        return per_frame(self.v, v), self.a(a)


class CoupledUNet(nn.Module):
    """``forward(video, audio, t) -> (eps_video, eps_audio)`` with video in ``(B, F, 3, H, W)``, audio ``(B, 1, L)``."""

    def __init__(self, cfg: CoupledConfig):
        super().__init__()
        self.cfg = cfg
        c0 = cfg.channels
        self.time = nn.Sequential(nn.Linear(c0, c0), nn.SiLU(), nn.Linear(c0, c0))
        self.v_in, self.a_in = VideoConv(3, c0), nn.Conv1d(1, c0, 3, padding=1)
        self._block = 0
        chans, ch, ds = [c0], c0, 1
        self.down = nn.ModuleList()
        for level, mult in enumerate(cfg.channel_mult):
            for _ in range(cfg.res_blocks):
                self.down.append(self._stage(ch, mult * c0, ds))
                ch = mult * c0
                chans.append(ch)
            if level < len(cfg.channel_mult) - 1:
                self.down.append(nn.ModuleList([Resample(ch, cfg.audio_down, up=False)]))
                chans.append(ch)
                ds *= 2
        self.middle = nn.ModuleList([self._res(ch, ch), *self._attention(ch, ds), self._res(ch, ch)])
        self.up = nn.ModuleList()
        for level, mult in reversed(list(enumerate(cfg.channel_mult))):
            for i in range(cfg.res_blocks + 1):
                stage = self._stage(ch + chans.pop(), mult * c0, ds)
                ch = mult * c0
                if level and i == cfg.res_blocks:
                    stage.append(Resample(ch, cfg.audio_down, up=True))
                    ds //= 2
                self.up.append(stage)
        self.v_out = nn.Sequential(group_norm(ch), nn.SiLU(), zero(nn.Conv2d(ch, 3, 3, padding=1)))
        self.a_out = nn.Sequential(group_norm(ch), nn.SiLU(), zero(nn.Conv1d(ch, 1, 3, padding=1)))

    def _res(self, c_in: int, c_out: int) -> ResBlock:
        dilation = 2 ** (self._block % self.cfg.max_dilation)
        self._block += 1
        return ResBlock(c_in, c_out, self.cfg.channels, dilation, self.cfg.dropout)

    def _attention(self, ch: int, ds: int) -> list[nn.Module]:
        cfg, heads = self.cfg, max(1, ch // self.cfg.head_channels)
        layers: list[nn.Module] = []
        if ds in cfg.video_attention:
            layers.append(VideoAttention(ch, heads))
        if ds in cfg.cross_attention:
            layers.append(CrossModalAttention(ch, heads, cfg.cross_windows[cfg.cross_attention.index(ds)]))
        return layers

    def _stage(self, c_in: int, c_out: int, ds: int) -> nn.ModuleList:
        return nn.ModuleList([self._res(c_in, c_out), *self._attention(c_out, ds)])

    def shift(self, window: int) -> int:
        """RS-MMA's window offset: random in training (Python ``random``, seeded by accelerate), 0 at eval."""
        return random.randint(0, self.cfg.frames - window) if self.training and self.cfg.random_shift else 0

    def forward(self, video: Tensor, audio: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        emb = self.time(timestep_embedding(t, self.cfg.channels))
        v, a = self.v_in(video), self.a_in(audio)
        skips = [(v, a)]

        def run(stage: nn.ModuleList, v: Tensor, a: Tensor) -> tuple[Tensor, Tensor]:
            for layer in stage:
                shift = self.shift(layer.window) if isinstance(layer, CrossModalAttention) else 0
                v, a = layer(v, a, emb, shift)
            return v, a

        for stage in self.down:
            v, a = run(stage, v, a)
            skips.append((v, a))
        v, a = run(self.middle, v, a)
        for stage in self.up:
            sv, sa = skips.pop()
            v, a = run(stage, torch.cat([v, sv], dim=2), torch.cat([a, sa], dim=1))
        return per_frame(self.v_out, v), self.a_out(a)
