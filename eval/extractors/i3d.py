"""I3D Kinetics-400 logits for FVD / KVD, the TATS (VideoGPT) convention (the ``windows`` FVD protocol).

Clips of consecutive frames (the protocol's samples); each frame bilinearly resized to 224x224 (``align_corners=False``,
no antialias) from 0-255 values, then scaled ``2x/255 - 1``; the network's 400 logits averaged over
time. Weights: ``i3d_pretrained_400.pt`` from the weights cache.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from eval.extractors.base import BatchedExtractor
from eval.extractors.i3d_net import InceptionI3d, Unit3D

SIZE = 224


class I3DExtractor(BatchedExtractor):
    """``features(clips)``: ``(N, T, H, W, 3)`` uint8 RGB clips -> ``(N, 400)`` float32 logits."""

    name = "i3d"
    weights_name = "i3d-400"
    preprocessing = "16-frame clips; bilinear 224 align_corners=False no-antialias; 2x/255-1; logits mean over time"
    dim = 400
    fast_memory_format = torch.channels_last_3d
    conv_then_bn = {Unit3D: ("conv3d", "bn")}

    @classmethod
    def build(cls) -> InceptionI3d:
        return InceptionI3d(cls.dim)

    def preprocess(self, batch: np.ndarray) -> torch.Tensor:
        """``(N, T, H, W, 3)`` uint8 RGB -> ``(N, 3, T, 224, 224)`` float32 in [-1, 1], exactly as TATS."""
        n, t = batch.shape[:2]
        frames = torch.from_numpy(np.ascontiguousarray(batch)).to(self.device).flatten(0, 1).permute(0, 3, 1, 2)
        frames = F.interpolate(frames.float(), size=(SIZE, SIZE), mode="bilinear", align_corners=False)
        return 2.0 * frames.view(n, t, 3, SIZE, SIZE).transpose(1, 2) / 255.0 - 1

    def fvd_features(self, clips: np.ndarray, protocol: str, batch_size: int = 4) -> np.ndarray:
        """The samples of an FVD protocol (``eval.fvd_protocols``) -> ``(N, 400)``; this port takes TATS'
        preprocessing under every protocol (the ``windows`` protocol names it)."""
        return self.features(clips, batch_size)
