"""LPIPS AlexNet v0.1 (the ``lpips`` package): its linear heads, torchvision's AlexNet backbone.

The package would download the backbone through torchvision; here the backbone weights come from
``alexnet-owt-7be5be79.pth`` in the weights cache (checked against its sha256 prefix) and are loaded
into the package's AlexNet slices by us. The linear heads ship inside the package.
Inputs are ``(n, 3, H, W)`` float in [-1, 1].
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Self

import lpips
import torch
import torchvision

from eval.extractors.base import Extractor, variance_preserving
from mmgt.weights import WeightsStore, sha256_file

HEADS = Path(lpips.__file__).parent / "weights" / "v0.1" / "alex.pth"


def lpips_alex() -> lpips.LPIPS:
    """LPIPS(alex, v0.1) with the package's linear heads and a randomly initialised backbone (no download)."""
    with warnings.catch_warnings():  # torchvision: 'pretrained' is deprecated (lpips 0.1.4 passes it)
        warnings.simplefilter("ignore", UserWarning)
        return lpips.LPIPS(net="alex", version="0.1", pretrained=True, pnet_rand=True, verbose=False)


class LPIPSExtractor(Extractor):
    """``extractor(x, y)``: LPIPS distance of each pair of frames in [-1, 1]."""

    name = "lpips-alex"
    weights_name = "alexnet"
    preprocessing = "lpips 0.1.4 alex v0.1; inputs in [-1, 1]; spatial mean"
    fast_memory_format = torch.channels_last

    @classmethod
    def build(cls) -> lpips.LPIPS:
        return lpips_alex()

    @classmethod
    def load_into(cls, net: lpips.LPIPS, state: dict[str, torch.Tensor]) -> None:
        """Copy torchvision AlexNet ``features.<i>`` weights into the package's ``slice<k>.<i>`` layers."""
        alexnet = torchvision.models.alexnet(weights=None)
        alexnet.load_state_dict(state)  # strict: the file must be a torchvision AlexNet
        for part in net.net.children():
            for index, layer in part.named_children():
                layer.load_state_dict(alexnet.features[int(index)].state_dict())

    @classmethod
    def randomise(cls, net: lpips.LPIPS) -> lpips.LPIPS:
        """A random backbone only: the linear heads stay the package's."""
        variance_preserving(net.net)
        return net

    @classmethod
    def from_weights(cls, store: WeightsStore, device: str | torch.device = "cpu") -> Self:
        extractor = super().from_weights(store, device)
        extractor.source += f"; heads {HEADS} sha256 {sha256_file(HEADS)}"
        return extractor

    @torch.inference_mode()
    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``(n,)`` distances between ``(n, 3, H, W)`` batches in [-1, 1]."""
        x, y = (v.to(self.device).contiguous(memory_format=self.memory_format) for v in (x, y))
        return self.net(x, y).reshape(-1)
