"""SMGA: the spatial mask-guided audio-to-pose denoiser (and, with one stream, EDGE's decoder).

Input per frame: the noisy 402-d pose concatenated with the reference pose. With two streams the
face stream sees only the face joints (24-91, everything else zeroed) and the body stream the rest.
Each decoder layer runs, per stream and with its own weights, self-attention + FiLM and audio
cross-attention + FiLM (residual, pre-norm); the streams are summed and passed through a shared
feed-forward + FiLM (the merge MLP of paper Eq. 13).

Residual stream: ``h0 = e_face + e_body`` (the two input projections summed: one linear map of the
whole pose); each layer adds each stream's update once, ``h + d_face(x_face) + d_body(x_body)``,
then the merge's, so activations grow additively over depth (summing two ``x + delta`` streams
would double ``h`` in every layer). Stream continuation (a deliberate choice; the release re-feeds
the body stream its first embedding in every layer): in the first layer each stream reads its own
embedding, from the second layer on both read ``h``, so body information is refined layer by
layer instead of being reset.

Audio: Linear -> 2 pre-norm transformer encoder layers -> tokens; two time tokens are appended for
cross-attention; time (sinusoidal -> MLP -> Mish) plus an MLP of the mean-pooled audio tokens gives
the FiLM vector. Classifier-free guidance: rows whose condition is dropped use learned null
audio tokens and a learned null pooled vector instead. Rotary position embeddings act on the
per-head queries and keys of every attention (audio tokens share the frame positions).

Everything that depends on the audio but not on the diffusion step (the pooled vector and every
cross-attention's keys and values of the audio tokens) is an :class:`AudioCondition`, computed once
per window by :meth:`SMGA.condition`; per step only the two time tokens' keys and values are added.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from einops import rearrange
from rotary_embedding_torch import RotaryEmbedding
from torch import Tensor, nn

from mmgt import keypoints as K


@dataclass(frozen=True)
class SMGAConfig:
    """Network sizes; the defaults are the published ones (paper preset)."""

    dim: int = 512
    ff_dim: int = 1024
    layers: int = 8
    heads: int = 8
    encoder_layers: int = 2
    dropout: float = 0.1
    audio_dim: int = 1059
    horizon: int = 80
    dual_stream: bool = True  # False: single stream, EDGE / the "w/o SMGA" ablation
    pose_dim: int = K.NUM_VALUES


def face_mask(device: torch.device | None = None) -> Tensor:
    """``(402,)`` float mask: 1 on the x, y, score values of the face joints 24-91."""
    mask = torch.zeros(K.NUM_JOINTS, 3, device=device)
    mask[list(K.FACE)] = 1.0
    return mask.flatten()


def split_streams(pose: Tensor) -> tuple[Tensor, Tensor]:
    """``(..., 402)`` -> (face part, body part); each keeps its own joints and zeroes the others."""
    mask = face_mask(pose.device).to(pose.dtype)
    return pose * mask, pose * (1 - mask)


class FiLM(nn.Module):
    """Scale and shift from a conditioning vector: ``(scale + 1) * x + shift``."""

    def __init__(self, dim: int):
        super().__init__()
        self.to_scale_shift = nn.Sequential(nn.Mish(), nn.Linear(dim, dim * 2))

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        scale, shift = self.to_scale_shift(cond)[:, None].chunk(2, dim=-1)
        return (scale + 1) * x + shift


KeysValues = tuple[Tensor, Tensor]  # per-head keys (rotated) and values, each (B, heads, n, dim / heads)


class Attention(nn.Module):
    """Multi-head attention with rotary embeddings on the per-head queries and keys."""

    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.rotary = RotaryEmbedding(dim=dim // heads)
        self.to_q = nn.Linear(dim, dim)
        self.to_kv = nn.Linear(dim, dim * 2)
        self.to_out = nn.Linear(dim, dim)

    def keys_values(self, context: Tensor, offset: int = 0) -> KeysValues:
        """Keys and values of ``context`` tokens at positions ``offset, offset + 1, ...``."""
        k, v = (rearrange(t, "b n (h d) -> b h n d", h=self.heads) for t in self.to_kv(context).chunk(2, dim=-1))
        return self.rotary.rotate_queries_or_keys(k, offset=offset), v

    def forward(self, x: Tensor, context: Tensor | None = None, prefix: KeysValues | None = None) -> Tensor:
        """Attend from ``x`` to ``context`` (default: ``x``), after the precomputed ``prefix`` tokens if given."""
        k, v = self.keys_values(x if context is None else context, offset=0 if prefix is None else prefix[0].shape[-2])
        if prefix is not None:
            k, v = torch.cat([prefix[0], k], dim=-2), torch.cat([prefix[1], v], dim=-2)
        q = self.rotary.rotate_queries_or_keys(rearrange(self.to_q(x), "b n (h d) -> b h n d", h=self.heads))
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0)
        return self.to_out(rearrange(out, "b h n d -> b n (h d)"))


def feed_forward(dim: int, ff_dim: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(nn.Linear(dim, ff_dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(ff_dim, dim), nn.Dropout(dropout))


class EncoderLayer(nn.Module):
    """Pre-norm transformer encoder layer (audio encoder)."""

    def __init__(self, cfg: SMGAConfig):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(cfg.dim), nn.LayerNorm(cfg.dim)
        self.attn = Attention(cfg.dim, cfg.heads, cfg.dropout)
        self.ff = feed_forward(cfg.dim, cfg.ff_dim, cfg.dropout)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.drop(self.attn(self.norm1(x)))
        return x + self.ff(self.norm2(x))


class MotionBlock(nn.Module):
    """One stream of a decoder layer: self-attention + FiLM, audio cross-attention + FiLM."""

    def __init__(self, cfg: SMGAConfig):
        super().__init__()
        self.norm_self, self.norm_cross = nn.LayerNorm(cfg.dim), nn.LayerNorm(cfg.dim)
        self.self_attn = Attention(cfg.dim, cfg.heads, cfg.dropout)
        self.cross_attn = Attention(cfg.dim, cfg.heads, cfg.dropout)
        self.film_self, self.film_cross = FiLM(cfg.dim), FiLM(cfg.dim)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: Tensor, audio_kv: KeysValues, time_tokens: Tensor, t: Tensor) -> Tensor:
        """The stream's update of ``x`` (what its two residual sub-blocks add), not ``x`` plus it."""
        d_self = self.film_self(self.drop(self.self_attn(self.norm_self(x))), t)
        attended = self.cross_attn(self.norm_cross(x + d_self), time_tokens, prefix=audio_kv)
        return d_self + self.film_cross(self.drop(attended), t)


class DecoderLayer(nn.Module):
    """Motion blocks (one per stream) add their updates to the residual stream, then the merge feed-forward + FiLM.

    ``h + d_face(x_face) + d_body(x_body)``, then ``+ FiLM(FF(norm(.)))``: every update is added
    once, so the residual grows additively over depth as in a single-stream transformer.
    """

    def __init__(self, cfg: SMGAConfig):
        super().__init__()
        self.streams = nn.ModuleList(MotionBlock(cfg) for _ in range(2 if cfg.dual_stream else 1))
        self.norm_merge = nn.LayerNorm(cfg.dim)
        self.merge = feed_forward(cfg.dim, cfg.ff_dim, cfg.dropout)
        self.film_merge = FiLM(cfg.dim)

    def forward(self, h: Tensor, xs: list[Tensor], audio_kv: list[KeysValues], time_tokens: Tensor, t: Tensor) -> Tensor:
        """Residual stream ``h`` updated by each stream reading its input ``xs[i]``."""
        h = h + sum(block(x, kv, time_tokens, t) for block, x, kv in zip(self.streams, xs, audio_kv, strict=True))
        return h + self.film_merge(self.merge(self.norm_merge(h)), t)


class SinusoidalEmbedding(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, t: Tensor) -> Tensor:
        half = self.dim // 2
        freqs = torch.exp(-math.log(10000) * torch.arange(half, device=t.device) / (half - 1))
        args = t.float()[:, None] * freqs[None]
        return torch.cat([args.sin(), args.cos()], dim=-1)


class AudioCondition(NamedTuple):
    """The step-independent conditioning of a batch (see :meth:`SMGA.condition`)."""

    pooled: Tensor  # (B, dim), added to the time FiLM vector
    audio_kv: list[list[KeysValues]]  # [layer][stream]: the cross-attention's keys/values of the audio tokens


class SMGA(nn.Module):
    """x0-predicting denoiser ``(x_t, t, ref pose, audio, keep) -> x0`` on ``(B, T, 402)`` poses."""

    def __init__(self, cfg: SMGAConfig = SMGAConfig()):
        super().__init__()
        self.cfg = cfg
        d = cfg.dim
        n_streams = 2 if cfg.dual_stream else 1
        self.input_proj = nn.ModuleList(nn.Linear(cfg.pose_dim * 2, d) for _ in range(n_streams))
        self.register_buffer("audio_mean", torch.zeros(cfg.audio_dim))
        self.register_buffer("audio_std", torch.ones(cfg.audio_dim))
        self.audio_proj = nn.Linear(cfg.audio_dim, d)
        self.audio_encoder = nn.Sequential(*(EncoderLayer(cfg) for _ in range(cfg.encoder_layers)))
        self.null_tokens = nn.Parameter(torch.randn(1, cfg.horizon, d))
        self.null_pooled = nn.Parameter(torch.randn(1, d))
        self.pooled_mlp = nn.Sequential(nn.LayerNorm(d), nn.Linear(d, d), nn.SiLU(), nn.Linear(d, d))
        self.time_mlp = nn.Sequential(SinusoidalEmbedding(d), nn.Linear(d, d * 4), nn.Mish())
        self.to_time_cond = nn.Linear(d * 4, d)
        self.to_time_tokens = nn.Linear(d * 4, d * 2)
        self.norm_tokens = nn.LayerNorm(d)
        self.layers = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.layers))
        self.to_pose = nn.Linear(d, cfg.pose_dim)

    def stream_inputs(self, x: Tensor, ref: Tensor) -> list[Tensor]:
        """Per-stream inputs ``(B, T, 804)``: [face, body] (dual) or [whole pose] (single)."""
        pose = torch.cat([x, ref[:, None].expand_as(x)], dim=-1)
        if not self.cfg.dual_stream:
            return [pose]
        (fx, bx), (fr, br) = split_streams(x), split_streams(ref[:, None].expand_as(x))
        return [torch.cat([fx, fr], dim=-1), torch.cat([bx, br], dim=-1)]

    def set_audio_stats(self, mean: Tensor, std: Tensor) -> None:
        """Standardise audio features with training statistics (stored with the weights)."""
        self.audio_mean.copy_(mean)
        self.audio_std.copy_(std.clamp_min(1e-5))

    def encode_audio(self, audio: Tensor) -> Tensor:
        """Audio tokens ``(B, T, dim)``; independent of the diffusion step, so samplers reuse them."""
        return self.audio_encoder(self.audio_proj((audio - self.audio_mean) / self.audio_std))

    def condition(
        self, audio: Tensor | None = None, keep: Tensor | None = None, audio_tokens: Tensor | None = None,
    ) -> AudioCondition:
        """Step-independent conditioning from raw ``audio`` (B, T, audio_dim) or ``audio_tokens``.

        ``keep`` (B,) bool: rows with False use the null audio embeddings (classifier-free guidance).
        """
        tokens = self.encode_audio(audio) if audio_tokens is None else audio_tokens
        b, n = tokens.shape[:2]
        keep = torch.ones(b, dtype=torch.bool, device=tokens.device) if keep is None else keep
        tokens = torch.where(keep[:, None, None], tokens, self.null_tokens[:, :n].to(tokens.dtype))
        pooled = torch.where(keep[:, None], self.pooled_mlp(tokens.mean(dim=1)), self.null_pooled.to(tokens.dtype))
        normed = self.norm_tokens(tokens)  # per token, so equal to normalising [tokens, time tokens] together
        audio_kv = [[block.cross_attn.keys_values(normed) for block in layer.streams] for layer in self.layers]
        return AudioCondition(pooled, audio_kv)

    def forward(
        self, x: Tensor, t: Tensor, ref: Tensor, audio: Tensor | None = None,
        keep: Tensor | None = None, audio_tokens: Tensor | None = None, condition: AudioCondition | None = None,
    ) -> Tensor:
        """Predict x0 from ``x`` (B, T, 402), ``t`` (B,) and the reference pose ``ref`` (B, 402).

        The audio comes as a precomputed ``condition`` or as :meth:`condition`'s arguments.
        """
        cond = self.condition(audio, keep, audio_tokens) if condition is None else condition
        t_hidden = self.time_mlp(t)
        t_cond = self.to_time_cond(t_hidden) + cond.pooled
        time_tokens = self.norm_tokens(rearrange(self.to_time_tokens(t_hidden), "b (r d) -> b r d", r=2))
        xs = [proj(s) for proj, s in zip(self.input_proj, self.stream_inputs(x, ref), strict=True)]
        h = sum(xs)
        for layer, audio_kv in zip(self.layers, cond.audio_kv, strict=True):
            h = layer(h, xs, audio_kv, time_tokens, t_cond)
            xs = [h] * len(xs)
        return self.to_pose(h)
