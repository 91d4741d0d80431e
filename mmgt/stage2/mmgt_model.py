"""MMGT stage 2: the backbone (:class:`~mmgt.stage2.model.Stage2Model`) with MM-HAA audio attention.

The audio modules (:class:`~mmgt.stage2.audio_attention.AudioModules`) hook into the denoiser's
spatial transformers; per call their inputs (feature windows and masks, one row per frame) are set
with :meth:`MMGTModel.set_audio`, and :meth:`MMGTModel.forward` (training) projects the windows to
tokens and zeroes a sample's tokens with probability ``audio_drop_prob``. The unconditional branch of
guidance uses zero audio tokens (with the backbone's zero CLIP token and no reference features).

Model folder: the backbone's layout (:mod:`mmgt.stage2.checkpoint`) plus ``audio/config.json``
(the :class:`AudioAttentionConfig`) and ``audio/model.safetensors``.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import torch
from diffusers import DDIMScheduler
from safetensors.torch import load_file, save_file
from torch import Tensor

from mmgt.errors import DataError
from mmgt.config import from_dict
from mmgt.stage2.audio_attention import AudioAttentionConfig, AudioModules
from mmgt.stage2.checkpoint import load_model, save_model
from mmgt.stage2.model import Stage2Model

AUDIO_DIR = "audio"


class MMGTModel(Stage2Model):
    """Stage2Model + :class:`AudioModules`; built from a backbone (image-step weights) by :meth:`from_backbone`."""

    def __init__(self, cfg, reference_net, denoiser, pose_guider, image_encoder, vae, audio_cfg: AudioAttentionConfig):
        super().__init__(cfg, reference_net, denoiser, pose_guider, image_encoder, vae)
        self.audio = AudioModules(audio_cfg, self.denoiser, cfg.unet.cross_attention_dim)
        self.audio.install(self.denoiser)

    def _wire(self) -> None:
        super()._wire()
        if hasattr(self, "audio"):
            self.audio.install(self.denoiser)  # a new denoiser after add_motion

    @classmethod
    def from_backbone(cls, backbone: Stage2Model, audio_cfg: AudioAttentionConfig) -> MMGTModel:
        backbone.pose_injection.remove()
        b = backbone
        return cls(b.cfg, b.reference_net, b.denoiser, b.pose_guider, b.image_encoder, b.vae, audio_cfg)

    @property
    def audio_cfg(self) -> AudioAttentionConfig:
        return self.audio.cfg

    def audio_parameters(self) -> list[torch.nn.Parameter]:
        return list(self.audio.parameters())

    def tokens(self, windows: Tensor, keep: Tensor | None = None) -> Tensor:
        """``(N, window, ...)`` feature windows -> ``(N, tokens, D)``; rows where ``keep`` is False are zero."""
        tokens = self.audio.projection(windows)
        return tokens if keep is None else tokens * keep.to(tokens.dtype)[:, None, None]

    def set_audio(self, tokens: Tensor | None, masks: Tensor | None) -> None:
        """MM-HAA inputs of the next denoiser calls: ``(rows, L, D)`` tokens, ``(rows, 3, h, w)`` masks."""
        self.audio.bank.tokens, self.audio.bank.masks = tokens, masks

    def forward(self, noisy: Tensor, t: Tensor, pose: Tensor, ref_latents: Tensor, ref_images: Tensor, keep: Tensor,
                audio_windows: Tensor | None = None, masks: Tensor | None = None) -> Tensor:
        """The backbone's training forward with audio: ``audio_windows`` ``(B, F, window, ...)``, ``masks`` ``(B, F, 3, h, w)``."""
        if audio_windows is None:
            return super().forward(noisy, t, pose, ref_latents, ref_images, keep)
        b, frames = audio_windows.shape[:2]
        keep_audio = keep
        if self.training:
            keep_audio = keep & (torch.rand(b, device=keep.device) >= self.audio_cfg.audio_drop_prob)
        tokens = self.tokens(audio_windows.flatten(0, 1), keep_audio.repeat_interleave(frames))
        self.set_audio(tokens, None if masks is None else masks.flatten(0, 1))
        try:
            return super().forward(noisy, t, pose, ref_latents, ref_images, keep)
        finally:
            self.audio.bank.clear()


def save_mmgt(folder: str | Path, model: MMGTModel, scheduler: DDIMScheduler, step: int, extra: dict | None = None,
              dtype: torch.dtype | None = None) -> Path:
    """The backbone folder plus ``audio/`` (optionally cast to ``dtype``, e.g. fp16 for committed checkpoints)."""
    folder = save_model(folder, model, scheduler, step, extra, dtype)
    (folder / AUDIO_DIR).mkdir(exist_ok=True)
    (folder / AUDIO_DIR / "config.json").write_text(json.dumps(asdict(model.audio_cfg), indent=2) + "\n")
    save_file({k: v.detach().to("cpu", dtype or v.dtype).contiguous() for k, v in model.audio.state_dict().items()},
              folder / AUDIO_DIR / "model.safetensors")
    return folder


def load_mmgt(folder: str | Path, device: str | torch.device = "cpu") -> tuple[MMGTModel, DDIMScheduler, dict]:
    """An MMGT model folder (with ``audio/``) in eval mode, its scheduler and metadata."""
    folder = Path(folder)
    audio = folder / AUDIO_DIR
    if not (audio / "config.json").is_file():
        raise DataError(audio, "no MM-HAA audio modules here (an MMGT model folder has audio/config.json)")
    backbone, scheduler, meta = load_model(folder, device)
    cfg = from_dict(AudioAttentionConfig, json.loads((audio / "config.json").read_text()))
    model = MMGTModel.from_backbone(backbone, cfg)
    model.audio.load_state_dict(load_file(audio / "model.safetensors"))
    return model.to(device).eval(), scheduler, meta
