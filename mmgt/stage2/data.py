"""Stage-2 training data from a split: VAE latents of every frame, reference pixels, rendered poses.

The VAE is frozen during stage-2 training, so every train frame is encoded once (cached, keyed by
the VAE's weights, the resolution and the split's manifest, so the backbone and every MMGT variant
trained on the same VAE share one encoding). Pose frames are drawn by :mod:`mmgt.render`
from the keypoints, the renderer inference uses too.

- image batch: a target frame and a reference frame of the same clip at least ``min_ref_distance``
  frames apart (AnimateAnyone's image step);
- video batch: ``frames`` consecutive frames and a random reference frame of the same clip.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from mmgt import keypoints as K
from mmgt.data.layout import Split
from mmgt.render import render_pose_video
from mmgt.video_io import atomic_path


def to_model_images(frames: np.ndarray, resolution: int) -> Tensor:
    """``(N, H, W, 3)`` uint8 -> ``(N, 3, R, R)`` float in [-1, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 127.5 - 1
    if x.shape[-2:] != (resolution, resolution):
        x = F.interpolate(x, size=(resolution, resolution), mode="bilinear", antialias=True, align_corners=False)
    return x


def pose_images(keypoints: np.ndarray, frame_size: tuple[int, int], resolution: int) -> Tensor:
    """``(T, 134, 3)`` pixel keypoints of a ``(w, h)`` frame -> ``(3, T, R, R)`` rendered poses in [0, 1]."""
    kp = K.scale_to(keypoints, frame_size, (resolution, resolution))
    video = render_pose_video(kp, (resolution, resolution))
    return torch.from_numpy(video).permute(3, 0, 1, 2).float() / 255


@dataclass
class EncodedClips:
    """Per train clip: latents ``(T, C, h, w)``, encoder-size reference images ``(T, 3, S, S)`` uint8,
    keypoints ``(T, 134, 3)`` and the frame size they are measured on."""

    latents: list[Tensor]
    images: list[Tensor]
    keypoints: list[np.ndarray]
    sizes: list[tuple[int, int]]

    def __len__(self) -> int:
        return len(self.latents)


def _vae_fingerprint(vae: torch.nn.Module, resolution: int, root: str | Path) -> str:
    digest = hashlib.sha256(str(resolution).encode())
    digest.update((Path(root) / "manifest.csv").read_bytes())
    for name, value in sorted(vae.state_dict().items()):
        digest.update(name.encode())
        digest.update(value.detach().cpu().float().numpy().tobytes())
    return digest.hexdigest()[:16]


@torch.no_grad()
def encode_split(model, root: str | Path, split: str = "train", cache: Path | None = None, batch: int = 16,
                 progress: bool = True) -> EncodedClips:
    """Encode every frame of the split's clips with ``model.vae`` (cached in ``cache`` when given)."""
    from tqdm import tqdm

    resolution, size = model.cfg.resolution, model.image_encoder.config.image_size
    key = _vae_fingerprint(model.vae, resolution, root)
    cached = cache / f"latents-{split}-{key}.pt" if cache is not None else None
    if cached is not None and cached.is_file():
        return EncodedClips(**torch.load(cached, weights_only=False))
    clips = Split(root).clips(split)
    out = EncodedClips([], [], [], [])
    for clip in tqdm(clips, desc=f"encode {split} frames", unit="clip", disable=not progress):
        frames = clip.frames()
        images = to_model_images(frames, resolution)
        latents = torch.cat([model.encode_images(images[i:i + batch]) for i in range(0, len(images), batch)])
        small = F.interpolate(images, size=(size, size), mode="bicubic", antialias=True, align_corners=False)
        out.latents.append(latents.half())
        out.images.append(((small + 1) * 127.5).round().clamp(0, 255).to(torch.uint8))
        out.keypoints.append(clip.keypoints())
        out.sizes.append((clip.record.width, clip.record.height))
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(cached) as tmp:
            torch.save(vars(out), tmp)
    return out


@dataclass
class Batch:
    latents: Tensor  # (B, C, F, h, w) targets
    pose: Tensor  # (B, 3, F, R, R) in [0, 1]
    ref_latents: Tensor  # (B, C, h, w)
    ref_images: Tensor  # (B, 3, S, S) in [-1, 1], for the image encoder

    def to(self, device: torch.device) -> Batch:
        return Batch(*(getattr(self, f).to(device) for f in ("latents", "pose", "ref_latents", "ref_images")))

    def conditions(self) -> dict[str, Tensor]:
        """Extra keyword inputs of the model's training forward: none for the backbone (MMGT: audio, masks)."""
        return {}


def draw(data: EncodedClips, rng: np.random.Generator, frames: int, min_ref_distance: int) -> tuple[int, int, list[int]]:
    """A random ``(clip, reference frame, target frames)``: ``frames == 1`` -> image step (reference >=
    ``min_ref_distance`` away), else ``frames`` consecutive frames and any reference frame of the clip."""
    c = int(rng.integers(len(data)))
    n = len(data.latents[c])
    if frames == 1:
        target = int(rng.integers(n))
        far = [i for i in range(n) if abs(i - target) >= min_ref_distance]
        if not far:
            raise ValueError(f"clip of {n} frames has no frame {min_ref_distance} away from another")
        return c, int(rng.choice(far)), [target]
    if n < frames:
        raise ValueError(f"clip of {n} frames is shorter than the {frames}-frame video step")
    start = int(rng.integers(n - frames + 1))
    return c, int(rng.integers(n)), list(range(start, start + frames))


def batch_item(data: EncodedClips, c: int, ref: int, span: list[int], resolution: int) -> tuple[Tensor, ...]:
    """One sample's (latents ``(C, F, h, w)``, poses ``(3, F, R, R)``, reference latent, reference image)."""
    return (data.latents[c][span].float().transpose(0, 1), pose_images(data.keypoints[c][span], data.sizes[c], resolution),
            data.latents[c][ref].float(), data.images[c][ref].float() / 127.5 - 1)


def sample_batch(data: EncodedClips, rng: np.random.Generator, batch: int, frames: int, resolution: int,
                 min_ref_distance: int) -> Batch:
    """A random batch of :func:`draw` samples."""
    items = [batch_item(data, *draw(data, rng, frames, min_ref_distance), resolution) for _ in range(batch)]
    return Batch(*(torch.stack(column) for column in zip(*items)))
