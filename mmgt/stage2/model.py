"""The stage-2 backbone (AnimateAnyone): stock diffusers / transformers parts wired by processors and hooks.

- ``reference_net``: ``UNet2DConditionModel`` run once at t = 0 on the reference latent;
- ``denoiser``: ``UNet2DConditionModel`` (image step), ``UNetMotionModel`` after :meth:`Stage2Model.add_motion`
  (video step: AnimateDiff motion modules from a ``MotionAdapter``, outputs zero-initialised);
- ``pose_guider``: :class:`~mmgt.stage2.pose_guider.PoseGuider`, added after the denoiser's ``conv_in``;
- ``image_encoder``: ``CLIPVisionModelWithProjection``; the reference's image embedding is the one
  cross-attention token of both UNets (zeroed for the unconditional branch);
- ``vae``: ``AutoencoderKL`` (frozen during stage-2 training).

Initial weights (``cfg.pretrained``) come from the weights cache in the standard folder layouts:
SD-1.5's ``unet/`` (both UNets), sd-vae-ft-mse, sd-image-variations' ``image_encoder/`` and the
AnimateDiff ``MotionAdapter`` (a diffusers folder, or AnimateDiff's own ``.ckpt``); a field set to None builds that part random-init from the config.
Latent video tensors are ``(batch, channels, frames, height, width)`` throughout.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL, DDIMScheduler, MotionAdapter, UNet2DConditionModel, UNetMotionModel
from torch import Tensor, nn
from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

from mmgt.errors import DataError
from mmgt.stage2.config import SchedulerConfig, Stage2Config
from mmgt.stage2.motion_checkpoint import load_motion_checkpoint
from mmgt.stage2.pose_guider import PoseGuider, PoseInjection
from mmgt.stage2.reference import ReferenceBank, connect
from mmgt.weights import WeightsStore

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
# Sub-folders of a pretrained entry holding each part (SD-1.5 / sd-image-variations layouts).
PRETRAINED_SUBFOLDER = {"unet": "unet", "vae": None, "image_encoder": "image_encoder", "motion_adapter": None}


def make_scheduler(cfg: SchedulerConfig) -> DDIMScheduler:
    """The one DDIM scheduler configuration of training and inference."""
    return DDIMScheduler(**asdict(cfg))


def scheduler_settings(scheduler: DDIMScheduler) -> dict:
    """A scheduler's configuration without diffusers' bookkeeping keys (``_class_name``, versions, ...)."""
    return {k: v for k, v in scheduler.config.items() if not k.startswith("_")}


def build_unet(cfg: Stage2Config) -> UNet2DConditionModel:
    return UNet2DConditionModel(**cfg.unet.diffusers_kwargs(), sample_size=cfg.resolution // cfg.vae.downsample)


def build_vae(cfg: Stage2Config) -> AutoencoderKL:
    v, n = cfg.vae, len(cfg.vae.block_out_channels)
    return AutoencoderKL(
        in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * n,
        up_block_types=("UpDecoderBlock2D",) * n, block_out_channels=tuple(v.block_out_channels),
        layers_per_block=v.layers_per_block, latent_channels=v.latent_channels, norm_num_groups=v.norm_num_groups,
        mid_block_add_attention=v.mid_block_attention, sample_size=cfg.resolution, scaling_factor=v.scaling_factor,
    )


def build_image_encoder(cfg: Stage2Config) -> CLIPVisionModelWithProjection:
    return CLIPVisionModelWithProjection(CLIPVisionConfig(**asdict(cfg.image_encoder)))


def build_motion_adapter(cfg: Stage2Config) -> MotionAdapter:
    """A random-init ``MotionAdapter`` for the UNet's widths, every motion module's output zeroed."""
    m = cfg.motion
    adapter = MotionAdapter(
        block_out_channels=tuple(cfg.unet.block_out_channels), motion_layers_per_block=cfg.unet.layers_per_block,
        motion_transformer_layers_per_block=m.transformer_layers_per_block, motion_num_attention_heads=m.num_attention_heads,
        motion_norm_num_groups=m.norm_num_groups, motion_max_seq_length=m.max_seq_length, use_motion_mid_block=m.use_mid_block,
    )
    for name, module in adapter.named_modules():
        if name.endswith("proj_out"):
            nn.init.zeros_(module.weight)
            nn.init.zeros_(module.bias)
    return adapter


def load_motion_adapter(cfg: Stage2Config, weights_dir: str | Path | None = None) -> MotionAdapter:
    """The pretrained motion modules ``cfg.pretrained.motion_adapter`` names: a ``MotionAdapter`` folder, or an
    AnimateDiff ``.ckpt`` file (``mm_sd_v15_v2.ckpt``, converted into an adapter of the UNet's widths)."""
    name = cfg.pretrained.motion_adapter
    path = Path(name) if Path(name).is_file() else pretrained_path(name, "motion_adapter", weights_dir)
    if path.is_file():
        return load_motion_checkpoint(path, build_motion_adapter(cfg))
    return MotionAdapter.from_pretrained(path)


def pretrained_path(name: str, part: str, weights_dir: str | Path | None) -> Path:
    """The checked local folder of a pretrained part (a weights-manifest entry, or a folder path)."""
    path = Path(name) if Path(name).is_dir() else WeightsStore(weights_dir).resolve(name)
    sub = PRETRAINED_SUBFOLDER[part]
    return path / sub if sub else path


class Stage2Model(nn.Module):
    """ReferenceNet + denoiser (+ motion modules) + PoseGuider + CLIP image encoder + VAE."""

    def __init__(self, cfg: Stage2Config, reference_net: UNet2DConditionModel, denoiser: nn.Module,
                 pose_guider: PoseGuider, image_encoder: CLIPVisionModelWithProjection, vae: AutoencoderKL):
        super().__init__()
        self.cfg = cfg
        self.reference_net, self.denoiser, self.pose_guider = reference_net, denoiser, pose_guider
        self.image_encoder, self.vae = image_encoder, vae
        self.vae.requires_grad_(False)
        self.bank = ReferenceBank()
        self._wire()

    def _wire(self) -> None:
        self.reference_paths = connect(self.reference_net, self.denoiser, self.bank)
        if hasattr(self, "pose_injection"):
            self.pose_injection.remove()
        self.pose_injection = PoseInjection(self.denoiser)

    @classmethod
    def build(cls, cfg: Stage2Config, weights_dir: str | Path | None = None, vae: AutoencoderKL | None = None) -> Stage2Model:
        """Initial model: pretrained parts from ``cfg.pretrained`` (weights cache), the rest random-init."""
        pre = cfg.pretrained

        def part(field: str, load, build):
            name = getattr(pre, field)
            return load(pretrained_path(name, field, weights_dir)) if name else build(cfg)

        unet = part("unet", UNet2DConditionModel.from_pretrained, build_unet)
        widths = tuple(unet.config.block_out_channels), unet.config.cross_attention_dim
        if widths != (tuple(cfg.unet.block_out_channels), cfg.unet.cross_attention_dim):
            raise DataError(pre.unet, f"UNet widths/context {widths} differ from the preset's "
                                      f"{tuple(cfg.unet.block_out_channels)}/{cfg.unet.cross_attention_dim}")
        reference_net = UNet2DConditionModel.from_config(unet.config)
        reference_net.load_state_dict(unet.state_dict())
        guider = PoseGuider(cfg.unet.block_out_channels[0], tuple(cfg.pose_guider.channels), cfg.pose_guider.conditioning_channels)
        encoder = part("image_encoder", CLIPVisionModelWithProjection.from_pretrained, build_image_encoder)
        vae = vae if vae is not None else part("vae", AutoencoderKL.from_pretrained, build_vae)
        return cls(cfg, reference_net, unet, guider, encoder, vae)

    # ----- the video step -------------------------------------------------------------------
    @property
    def video(self) -> bool:
        return isinstance(self.denoiser, UNetMotionModel)

    def add_motion(self, adapter: MotionAdapter | None = None, weights_dir: str | Path | None = None) -> None:
        """Turn the denoiser into a ``UNetMotionModel`` (pretrained adapter per config, else zero-init)."""
        if self.video:
            raise RuntimeError("the denoiser already has motion modules")
        if adapter is None:
            name = self.cfg.pretrained.motion_adapter
            adapter = load_motion_adapter(self.cfg, weights_dir) if name else build_motion_adapter(self.cfg)
        self.denoiser = UNetMotionModel.from_unet2d(self.denoiser, adapter).to(next(self.reference_net.parameters()).device)
        self._wire()

    def motion_parameters(self) -> list[nn.Parameter]:
        return [p for n, p in self.denoiser.named_parameters() if "motion_modules" in n]

    # ----- conditions -------------------------------------------------------------------------
    def encode_images(self, images: Tensor) -> Tensor:
        """``(N, 3, H, W)`` images in [-1, 1] -> scaled latents (posterior mean)."""
        return self.vae.encode(images).latent_dist.mean * self.vae.config.scaling_factor

    def decode_latents(self, latents: Tensor) -> Tensor:
        """Scaled latents ``(N, C, h, w)`` -> images in [-1, 1]."""
        return self.vae.decode(latents / self.vae.config.scaling_factor).sample.clamp(-1, 1)

    def clip_embeds(self, images: Tensor) -> Tensor:
        """``(N, 3, H, W)`` images in [-1, 1] -> ``(N, 1, D)`` CLIP image embeddings (the cross-attention token)."""
        size = self.image_encoder.config.image_size
        x = F.interpolate((images + 1) / 2, size=(size, size), mode="bicubic", antialias=True, align_corners=False)
        mean, std = (torch.tensor(v, device=x.device, dtype=x.dtype)[:, None, None] for v in (CLIP_MEAN, CLIP_STD))
        return self.image_encoder(pixel_values=(x - mean) / std).image_embeds[:, None]

    def pose_features(self, pose: Tensor) -> Tensor:
        """``(B, 3, F, H, W)`` pose frames in [0, 1] -> ``(B * F, c0, h, w)`` guider features in frame order."""
        return self.pose_guider(pose.transpose(1, 2).flatten(0, 1))

    def reference(self, ref_latents: Tensor, context: Tensor) -> dict[str, Tensor]:
        """Run the ReferenceNet once (t = 0); its self-attention inputs keyed by module path."""
        self.bank.clear()
        t = torch.zeros(ref_latents.shape[0], device=ref_latents.device, dtype=torch.long)
        self.reference_net(ref_latents, t, encoder_hidden_states=context)
        features = dict(self.bank.features)
        self.bank.clear()
        return features

    # ----- denoising -----------------------------------------------------------------------------
    def denoise(self, noisy: Tensor, t: Tensor, pose_features: Tensor, context: Tensor,
                references: dict[str, Tensor], keep: Tensor) -> Tensor:
        """The denoiser's prediction for ``(B, C, F, h, w)`` latents; ``keep`` (B,) drops references where False."""
        b, _, frames = noisy.shape[:3]
        t = t.reshape(-1).expand(b)
        self.bank.features.update(references)
        self.bank.keep = keep
        self.pose_injection.features = pose_features
        context = context.repeat_interleave(frames, 0)  # both UNets take one context row per frame
        try:
            if self.video:
                return self.denoiser(noisy, t, encoder_hidden_states=context).sample
            flat = noisy.transpose(1, 2).flatten(0, 1)
            out = self.denoiser(flat, t.repeat_interleave(frames), encoder_hidden_states=context).sample
            return out.unflatten(0, (b, frames)).transpose(1, 2)
        finally:
            self.bank.clear()
            self.pose_injection.features = None

    def forward(self, noisy: Tensor, t: Tensor, pose: Tensor, ref_latents: Tensor, ref_images: Tensor, keep: Tensor) -> Tensor:
        """One training forward; condition dropout zeroes the CLIP token and removes the references where ``keep`` is False."""
        context = self.clip_embeds(ref_images) * keep.to(ref_images.dtype)[:, None, None]
        return self.denoise(noisy, t, self.pose_features(pose), context, self.reference(ref_latents, context), keep)
