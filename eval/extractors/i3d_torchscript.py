"""StyleGAN-V's TF-faithful I3D (``i3d_torchscript.pt``): Kinetics-400 features for the ``stylegan-v`` and
``common-metrics`` FVD protocols, each fed as its tool feeds it.

The file is a TorchScript archive whose ``forward(x, rescale, resize, return_features)`` returns the
400 features before the softmax (what StyleGAN-V and common_metrics_on_video_quality call with
``return_features=True``). It is loaded with ``torch.jit.load`` only from the weights cache, after its
git blob SHA-1 (and the lockfile, if any) matched: TorchScript code runs in torch's interpreter and
unpickles no Python objects, and no other path reaches the loader.

- ``stylegan-v``: uint8 clips ``(N, 3, T, H, W)``, ``rescale=True, resize=True`` (the script scales and
  resizes to 224 itself), as ``metric_utils.compute_feature_stats_for_dataset``.
- ``common-metrics``: ``x / 255`` in [0, 1], shorter side bilinearly resized to 224 (``align_corners=False``,
  the longer side ``ceil``), centre crop 224, ``(x - 0.5) * 2``, then ``rescale=False, resize=False``, as
  ``fvd/styleganv/fvd.py`` ``preprocess_single``.

Without the file (``allow_untrained``), a seeded random-init :class:`~eval.extractors.i3d_net.InceptionI3d`
stands in with the same call form (its own rescale ``2x/255 - 1`` and trilinear resize to 224).
"""

from __future__ import annotations

import math
from typing import ClassVar, Self

import numpy as np
import torch
import torch.nn.functional as F

from eval.extractors.base import RANDOM_INIT, Extractor, batches
from eval.extractors.i3d_net import InceptionI3d, Unit3D
from mmgt.weights import WeightsStore

SIZE = 224
FLAGS: dict[str, tuple[bool, bool]] = {"stylegan-v": (True, True), "common-metrics": (False, False)}  # rescale, resize


class CallForm(torch.nn.Module):
    """A random-init I3D called as the TorchScript file is: ``forward(x, rescale, resize, return_features)``."""

    def __init__(self):
        super().__init__()
        self.i3d = InceptionI3d(400)

    def forward(self, x: torch.Tensor, rescale: bool = False, resize: bool = False,
                return_features: bool = False) -> torch.Tensor:
        x = x.float()
        if rescale:
            x = 2 * x / 255 - 1
        if resize:
            x = F.interpolate(x, size=(x.shape[2], SIZE, SIZE), mode="trilinear", align_corners=False)
        return self.i3d(x)


class I3DTorchScriptExtractor(Extractor):
    """``fvd_features(clips, protocol)``: ``(N, T, H, W, 3)`` uint8 RGB clips -> ``(N, 400)`` float32 features."""

    name = "i3d-torchscript"
    weights_name = "i3d-torchscript"
    preprocessing = ("stylegan-v: uint8 (N, 3, T, H, W), rescale=True resize=True; common-metrics: x/255, shorter side "
                     "bilinear to 224 align_corners=False + centre crop, (x-0.5)*2, rescale=False resize=False")
    dim = 400
    conv_then_bn: ClassVar = {Unit3D: ("conv3d", "bn")}  # the random-init stand-in's; a script module folds nothing

    @classmethod
    def build(cls) -> CallForm:
        return CallForm()

    @classmethod
    def from_weights(cls, store: WeightsStore, device: str | torch.device = "cpu") -> Self:
        path = store.resolve(cls.weights_name)  # identity checked before anything is loaded
        net = torch.jit.load(str(path), map_location=torch.device(device))
        return cls(net, store.sha256(cls.weights_name), str(path), device)

    @classmethod
    def random_init(cls, device: str | torch.device = "cpu") -> Self:
        return cls(cls.randomise(cls.build()), RANDOM_INIT, RANDOM_INIT, device)

    def preprocess(self, clips: np.ndarray, protocol: str) -> torch.Tensor:
        """``(N, T, H, W, 3)`` uint8 -> the network input of ``protocol``, ``(N, 3, T, H', W')``."""
        x = torch.from_numpy(np.ascontiguousarray(clips)).to(self.device).permute(0, 4, 1, 2, 3).contiguous()
        if protocol == "stylegan-v":
            return x
        n, c, t, h, w = x.shape
        scale = SIZE / min(h, w)
        size = (SIZE, math.ceil(w * scale)) if h < w else (math.ceil(h * scale), SIZE)
        x = F.interpolate((x.float() / 255).view(n * c, t, h, w), size=size, mode="bilinear", align_corners=False)
        top, left = (size[0] - SIZE) // 2, (size[1] - SIZE) // 2
        x = x[:, :, top:top + SIZE, left:left + SIZE].reshape(n, c, t, SIZE, SIZE)
        return ((x - 0.5) * 2).contiguous()

    @torch.inference_mode()
    def fvd_features(self, clips: np.ndarray, protocol: str, batch_size: int = 4) -> np.ndarray:
        """The samples of FVD protocol ``protocol`` -> ``(N, 400)``, ``batch_size`` clips at a time."""
        if protocol not in FLAGS:
            raise ValueError(f"the TorchScript I3D serves the FVD protocols {tuple(FLAGS)}, not {protocol!r}")
        rescale, resize = FLAGS[protocol]
        out = [self.net(self.preprocess(clips[part], protocol), rescale=rescale, resize=resize,
                        return_features=True).float().cpu() for part in batches(len(clips), batch_size)]
        return torch.cat(out).numpy() if out else np.zeros((0, self.dim), np.float32)
