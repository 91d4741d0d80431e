"""ReferenceNet -> denoiser feature sharing through diffusers attention processors.

AnimateAnyone's ReferenceNet is a 2D UNet run once (t = 0) on the reference latent. The normalised
input of each of its spatial self-attentions (``attn1`` of a transformer block) is recorded by a
:class:`ReferenceWriteProcessor` into a shared :class:`ReferenceBank`, and the denoiser's
self-attention *at the same module path* (``down_blocks.1.attentions.0.transformer_blocks.0.attn1``)
reads it through a :class:`ReferenceAttnProcessor`: the reference tokens join the frame's own tokens
as extra keys and values of one softmax. Pairing by path (not by channel width, as the AnimateAnyone
release sorts them) holds for ``UNet2DConditionModel`` and ``UNetMotionModel`` alike, whose spatial
blocks share paths; temporal (motion-module) attentions have no reference counterpart and keep their
processors.

As in diffusers' IP-Adapter processors, the extra keys/values come with a ``scale`` and a
per-sample mask: the bank's ``keep`` (bool per reference) removes a sample's reference tokens
exactly (logit bias ``log(scale * keep)`` = -inf), which is the unconditional branch of
classifier-free guidance and of condition dropout.

Later modules (MM-HAA's audio attentions) plug in the same way: build processors per path and
install them with :func:`replace_processors`, which leaves every other processor as it is.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers.models.attention_processor import Attention, AttnProcessor2_0
from torch import Tensor, nn

SELF_ATTENTION = "attn1"
SUFFIX = ".processor"


class ReferenceBank:
    """Features recorded by the ReferenceNet for one denoiser forward, keyed by module path."""

    def __init__(self, scale: float = 1.0):
        if not scale >= 0:
            raise ValueError(f"reference scale must be >= 0, got {scale}")
        self.features: dict[str, Tensor] = {}
        self.keep: Tensor | None = None  # (n_refs,) bool; None keeps every reference
        self.scale = scale

    def clear(self) -> None:
        self.features.clear()
        self.keep = None

    def logit_bias(self, n_refs: int, device: torch.device, dtype: torch.dtype) -> Tensor:
        """``log(scale * keep)`` per reference: 0 keeps it at full weight, -inf removes it."""
        keep = torch.ones(n_refs, device=device) if self.keep is None else self.keep.to(device, torch.float32)
        return torch.log(keep * self.scale).to(dtype)


class ReferenceWriteProcessor(AttnProcessor2_0):
    """The ReferenceNet's self-attention: records its (normalised) input, then attends as usual."""

    def __init__(self, bank: ReferenceBank, path: str):
        super().__init__()
        self.bank, self.path = bank, path

    def __call__(self, attn: Attention, hidden_states: Tensor, *args, **kwargs) -> Tensor:
        self.bank.features[self.path] = hidden_states
        return super().__call__(attn, hidden_states, *args, **kwargs)


class ReferenceAttnProcessor(AttnProcessor2_0):
    """The denoiser's self-attention with the reference tokens of its path as extra keys/values.

    Rows of ``hidden_states`` are grouped per reference (``(reference, frame)`` order, as
    ``UNetMotionModel`` flattens ``(batch, frames)``): each reference serves ``rows // n_refs`` rows.
    """

    def __init__(self, bank: ReferenceBank, path: str):
        super().__init__()
        self.bank, self.path = bank, path

    def __call__(self, attn: Attention, hidden_states: Tensor, encoder_hidden_states: Tensor | None = None,
                 attention_mask: Tensor | None = None, temb: Tensor | None = None, *args, **kwargs) -> Tensor:
        ref = self.bank.features.get(self.path)
        if ref is None or encoder_hidden_states is not None or attention_mask is not None:
            return super().__call__(attn, hidden_states, encoder_hidden_states, attention_mask, temb, *args, **kwargs)
        rows, n, _ = hidden_states.shape
        if rows % ref.shape[0]:
            raise ValueError(f"{self.path}: {rows} rows cannot share {ref.shape[0]} references")
        per_ref = rows // ref.shape[0]
        context = torch.cat([hidden_states, ref.repeat_interleave(per_ref, dim=0)], dim=1)
        bias = self.bank.logit_bias(ref.shape[0], hidden_states.device, hidden_states.dtype)
        mask = torch.zeros(rows, 1, 1, context.shape[1], device=hidden_states.device, dtype=hidden_states.dtype)
        mask[..., n:] = bias.repeat_interleave(per_ref)[:, None, None, None]

        heads = attn.heads
        q, k, v = attn.to_q(hidden_states), attn.to_k(context), attn.to_v(context)
        q, k, v = (x.unflatten(-1, (heads, -1)).transpose(1, 2) for x in (q, k, v))
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=attn.scale)
        out = attn.to_out[1](attn.to_out[0](out.transpose(1, 2).flatten(2)))
        if attn.residual_connection:
            out = out + hidden_states
        return out / attn.rescale_output_factor


def self_attention_paths(unet: nn.Module) -> list[str]:
    """Module paths of the spatial self-attentions (``...transformer_blocks.N.attn1``) outside motion modules."""
    return [name.removesuffix(SUFFIX) for name in unet.attn_processors
            if name.endswith(f"{SELF_ATTENTION}{SUFFIX}") and "motion_modules" not in name]


def replace_processors(unet: nn.Module, processors: dict[str, object]) -> None:
    """Install ``{module path: processor}`` on ``unet``, keeping every other attention's processor."""
    current = unet.attn_processors
    names = {f"{path}{SUFFIX}": proc for path, proc in processors.items()}
    unknown = sorted(set(names) - set(current))
    if unknown:
        raise KeyError(f"no attention at {unknown[:3]} (of {len(unknown)}) in {type(unet).__name__}")
    unet.set_attn_processor(current | names)


def connect(reference_net: nn.Module, denoiser: nn.Module, bank: ReferenceBank) -> list[str]:
    """Writers on the ReferenceNet's self-attentions, readers on the denoiser's at the same paths."""
    paths = self_attention_paths(reference_net)
    if sorted(paths) != sorted(self_attention_paths(denoiser)):
        raise ValueError("ReferenceNet and denoiser have different spatial self-attention paths")
    replace_processors(reference_net, {p: ReferenceWriteProcessor(bank, p) for p in paths})
    replace_processors(denoiser, {p: ReferenceAttnProcessor(bank, p) for p in paths})
    return paths

