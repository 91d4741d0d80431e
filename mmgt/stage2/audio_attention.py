"""MM-HAA: motion-masked hierarchical audio attention on the stage-2 backbone (MMGT stage 2, Hallo-adapted).

After each chosen spatial transformer (``Transformer2DModel`` at ``down_blocks.i.attentions.j``, and
with ``placement: all`` also the mid and up blocks, as Hallo), a forward hook adds::

    u   = LayerNorm(h)                                   per pixel, channels last
    A_k = CrossAttn_k(u, audio tokens of the frame)      k in (full, face, lip): diffusers ``Attention``
    O_k = ZeroConv1x1_k(A_k * M_k)                       M_k resized to the level by area averaging
    h   = h + w_full O_full + w_face O_face + w_lip O_lip

so it sits after the spatial attention and before the motion module, and the UNet stays stock
diffusers. Masks (paper Eq. 20-22): ``full`` <- ``M_bg = 1 - M_fh``, ``face`` <- ``M_fh`` (face and
hands), ``lip`` <- ``M_lip``, each blurred and min-max normalised by :func:`mmgt.masks.stage2_masks`.
The branch weights ``w`` are read by :meth:`MMHAABlock.forward`, the one code path of training and
inference (the release ignores them in training and applies them only at inference).

Table III switches (:class:`AudioAttentionConfig`), each changing only what it names:

- ``masks: motion`` per-frame masks; ``still`` one mask per clip (the union over frames, made by
  :func:`branch_masks`); ``none`` no mask multiplication (masks are ignored by the block);
  ``reference`` (Hallo-adapted, not a Table III row) one static mask per clip from the reference
  frame's keypoint boxes (at inference :mod:`baselines.hallo` may use YOLO part boxes instead);
- ``audio: false`` replaces each audio cross-attention by a self-attention over ``u`` (same adapters,
  masks and weights; the audio never reaches the block).

Audio path (:class:`AudioProjection`): per frame a window of ``window`` feature frames (edges
replicated) is flattened and projected by an MLP to ``tokens`` tokens of the UNet's context width
(paper: 5 x 12 wav2vec2-base-960h layers x 768 = 46080 -> 512 -> 512 -> 32 x 768, LayerNorm; tiny:
5 x 35 librosa ``baseline`` features -> 64 -> 64 -> 32 x 64).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from diffusers.models.attention_processor import Attention
from diffusers.models.transformers.transformer_2d import Transformer2DModel
from torch import Tensor, nn

from mmgt.masks import MaskConfig, MotionMasks, motion_masks, stage2_masks
from mmgt.config import load_preset

BRANCHES = ("full", "face", "lip")
PLACEMENTS = ("down", "all")
MASK_MODES = ("motion", "still", "reference", "none")


@dataclass(frozen=True)
class AudioAttentionConfig:
    """MM-HAA and its audio path; defaults are MMGT's (``mmgt/presets/mmhaa_*.yaml``)."""

    feature_kind: str = "wav2vec2"  # mmgt.features kind: wav2vec2 (T, 12, 768) | baseline (T, 35)
    feature_layers: int = 12
    feature_dim: int = 768
    window: int = 5  # feature frames per video frame (t-2 .. t+2)
    tokens: int = 32
    hidden: int = 512
    placement: str = "down"  # down: down blocks only (the release); all: down, mid, up (Hallo)
    masks: str = "motion"  # motion | still | none (Table III) | reference (Hallo-adapted)
    audio: bool = True  # False: "w/o audio", the cross-attentions become self-attentions (Table III)
    branch_weights: tuple[float, float, float] = (1.0, 1.0, 1.0)  # (full, face, lip)
    audio_drop_prob: float = 0.05  # training: a sample's audio tokens zeroed

    def __post_init__(self) -> None:
        if self.placement not in PLACEMENTS:
            raise ValueError(f"placement must be one of {PLACEMENTS}, got {self.placement!r}")
        if self.masks not in MASK_MODES:
            raise ValueError(f"masks must be one of {MASK_MODES}, got {self.masks!r}")
        if len(self.branch_weights) != len(BRANCHES):
            raise ValueError(f"branch_weights needs {len(BRANCHES)} values {BRANCHES}, got {self.branch_weights}")
        if self.window < 1 or self.window % 2 == 0:
            raise ValueError(f"window must be a positive odd number of frames, got {self.window}")


def load_audio_config(preset: str, overrides: list[str] | tuple[str, ...] = ()) -> AudioAttentionConfig:
    """``mmgt/presets/mmhaa_<preset>.yaml`` (or a YAML path) with ``field=value`` overrides (e.g. ``masks=still``)."""
    return load_preset(AudioAttentionConfig, "mmhaa_", preset, overrides, "MM-HAA")


# ----- audio tokens --------------------------------------------------------------------------
def frame_windows(features: np.ndarray | Tensor, window: int) -> Tensor:
    """``(T, *F)`` per-frame features -> ``(T, window, *F)``: frames ``t - window // 2 .. t + window // 2``, edges replicated."""
    x = torch.as_tensor(np.asarray(features, dtype=np.float32)) if not isinstance(features, Tensor) else features
    half, n = window // 2, x.shape[0]
    index = (torch.arange(n)[:, None] + torch.arange(-half, half + 1)[None]).clamp(0, n - 1)
    return x[index]


class AudioProjection(nn.Module):
    """``(N, window, [layers,] dim)`` feature windows -> ``(N, tokens, context_dim)`` audio tokens."""

    def __init__(self, cfg: AudioAttentionConfig, context_dim: int):
        super().__init__()
        self.tokens, self.context_dim = cfg.tokens, context_dim
        self.mlp = nn.Sequential(
            nn.Linear(cfg.window * cfg.feature_layers * cfg.feature_dim, cfg.hidden), nn.SiLU(),
            nn.Linear(cfg.hidden, cfg.hidden), nn.SiLU(), nn.Linear(cfg.hidden, cfg.tokens * context_dim))
        self.norm = nn.LayerNorm(context_dim)

    def forward(self, windows: Tensor) -> Tensor:
        return self.norm(self.mlp(windows.flatten(1)).unflatten(1, (self.tokens, self.context_dim)))


# ----- masks -----------------------------------------------------------------------------------
def branch_masks(keypoints: np.ndarray, size: tuple[int, int], mode: str = "motion",
                 config: MaskConfig = MaskConfig()) -> np.ndarray:
    """``(T, 3, h, w)`` float32 soft masks (full = M_bg, face = M_fh, lip = M_lip) at ``config.work_size``.

    ``mode`` ``still`` takes the union over the clip's frames first; ``motion`` and ``none`` give the
    per-frame masks (``none`` is applied by the block, which then ignores them); ``reference`` repeats
    the first frame's masks (pass the reference frame first).
    """
    if mode not in MASK_MODES:
        raise ValueError(f"mask mode must be one of {MASK_MODES}, got {mode!r}")
    if mode == "reference":
        return np.repeat(branch_masks(keypoints[:1], size, "motion", config), len(keypoints), axis=0)
    masks = motion_masks(keypoints, size, config)
    return soft_branch_masks(masks.still() if mode == "still" else masks, config)


def soft_branch_masks(masks: MotionMasks, config: MaskConfig = MaskConfig()) -> np.ndarray:
    """``(T, 3, h, w)`` blurred, normalised (M_bg, M_fh, M_lip) of binary region masks, at ``config.work_size``."""
    soft = stage2_masks(masks, replace(config, levels=(config.work_size,)))
    return np.stack([soft.background[0], soft.face_hands[0], soft.lips[0]], axis=1)


# ----- the block and its hooks --------------------------------------------------------------------
class AudioBank:
    """Per-call MM-HAA inputs shared with the hooks (rows in the UNet's (batch, frame) order)."""

    def __init__(self):
        self.tokens: Tensor | None = None  # (rows, tokens, context_dim)
        self.masks: Tensor | None = None  # (rows, 3, h, w) at the working resolution

    def clear(self) -> None:
        self.tokens = self.masks = None


class MMHAABlock(nn.Module):
    """Three audio cross-attentions, masked, through zero-initialised 1x1 convs, weighted and added."""

    def __init__(self, channels: int, context_dim: int, heads: int, audio: bool = True, mask: bool = True):
        super().__init__()
        self.audio, self.mask = audio, mask
        self.norm = nn.LayerNorm(channels)
        self.attentions = nn.ModuleList(
            Attention(channels, cross_attention_dim=context_dim if audio else None, heads=heads,
                      dim_head=channels // heads, out_bias=True) for _ in BRANCHES)
        self.adapters = nn.ModuleList(nn.Conv2d(channels, channels, 1) for _ in BRANCHES)
        for conv in self.adapters:
            nn.init.zeros_(conv.weight)
            nn.init.zeros_(conv.bias)

    def forward(self, hidden: Tensor, tokens: Tensor | None, masks: Tensor | None, weights: tuple[float, ...]) -> Tensor:
        """``hidden`` ``(N, C, h, w)``, ``tokens`` ``(N, L, D)``, ``masks`` ``(N, 3, H, W)`` -> ``hidden`` + MM-HAA."""
        n, c, h, w = hidden.shape
        u = self.norm(hidden.flatten(2).transpose(1, 2))
        if self.mask and masks is not None:
            masks = F.interpolate(masks.to(hidden.dtype), size=(h, w), mode="area") if masks.shape[-2:] != (h, w) else masks
        out = hidden
        for k, (attn, adapter) in enumerate(zip(self.attentions, self.adapters)):
            a = attn(u, tokens if self.audio else None).transpose(1, 2).reshape(n, c, h, w)
            if self.mask and masks is not None:
                a = a * masks[:, k:k + 1].to(a.dtype)
            out = out + weights[k] * adapter(a)
        return out


def audio_attention_paths(unet: nn.Module, placement: str) -> list[str]:
    """Module paths of the spatial transformers that get an MM-HAA block."""
    prefixes = ("down_blocks",) if placement == "down" else ("down_blocks", "mid_block", "up_blocks")
    return [name for name, m in unet.named_modules() if isinstance(m, Transformer2DModel) and name.startswith(prefixes)]


def block_key(path: str) -> str:
    return path.replace(".", "-")


class AudioModules(nn.Module):
    """The audio projection and one :class:`MMHAABlock` per spatial transformer of ``unet`` (by path)."""

    def __init__(self, cfg: AudioAttentionConfig, unet: nn.Module, context_dim: int):
        super().__init__()
        self.cfg = cfg
        self.projection = AudioProjection(cfg, context_dim)
        blocks = {}
        for path in audio_attention_paths(unet, cfg.placement):
            t = unet.get_submodule(path)
            blocks[block_key(path)] = MMHAABlock(t.config.in_channels, context_dim, t.config.num_attention_heads,
                                                 audio=cfg.audio, mask=cfg.masks != "none")
        self.blocks = nn.ModuleDict(blocks)
        self.bank = AudioBank()
        self._handles: list = []

    def install(self, unet: nn.Module) -> None:
        """(Re)attach a forward hook on each block's transformer of ``unet`` (after ``add_motion`` too)."""
        for handle in self._handles:
            handle.remove()
        self._handles = [unet.get_submodule(key.replace("-", ".")).register_forward_hook(self._hook(key))
                         for key in self.blocks]

    def _hook(self, key: str):
        def hook(module: nn.Module, args: tuple, output):
            if self.bank.tokens is None and self.cfg.audio:
                return output
            hidden = output[0] if isinstance(output, tuple) else output.sample
            new = self.blocks[key](hidden, self.bank.tokens, self.bank.masks, self.cfg.branch_weights)
            if isinstance(output, tuple):
                return (new, *output[1:])
            output.sample = new
            return output
        return hook
