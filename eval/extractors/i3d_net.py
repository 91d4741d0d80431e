"""Inception-v1 I3D (Carreira & Zisserman 2017) as in the piergiaj / VideoGPT / TATS port used for FVD.

Module and parameter names equal that port's, so its ``i3d_pretrained_400.pt`` state dict loads
as is: ``Conv3d_1a_7x7.conv3d.weight``, ``Mixed_4b.b1b.bn.running_var``, ``logits.conv3d.bias``, ...
Convolutions and max-pools use TF "SAME" padding (zeros), computed from the input size at run time.
The output is the 400 Kinetics logits averaged over the remaining time steps.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

Triple = tuple[int, int, int]

# name: (input channels, [b0, b1a, b1b, b2a, b2b, b3b] output channels)
MIXED: dict[str, tuple[int, list[int]]] = {
    "Mixed_3b": (192, [64, 96, 128, 16, 32, 32]),
    "Mixed_3c": (256, [128, 128, 192, 32, 96, 64]),
    "Mixed_4b": (480, [192, 96, 208, 16, 48, 64]),
    "Mixed_4c": (512, [160, 112, 224, 24, 64, 64]),
    "Mixed_4d": (512, [128, 128, 256, 24, 64, 64]),
    "Mixed_4e": (512, [112, 144, 288, 32, 64, 64]),
    "Mixed_4f": (528, [256, 160, 320, 32, 128, 128]),
    "Mixed_5b": (832, [256, 160, 320, 32, 128, 128]),
    "Mixed_5c": (832, [384, 192, 384, 48, 128, 128]),
}


def same_pad(x: torch.Tensor, kernel: Triple, stride: Triple) -> torch.Tensor:
    """Zero-pad ``(N, C, T, H, W)`` as TF "SAME" does (the extra pixel goes after)."""
    pads: list[int] = []
    for size, k, s in zip(reversed(x.shape[2:]), reversed(kernel), reversed(stride)):
        total = max(k - (s if size % s == 0 else size % s), 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads)


class SamePadMaxPool3d(nn.MaxPool3d):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(same_pad(x, self.kernel_size, self.stride))


class Unit3D(nn.Module):
    """SAME-padded Conv3d, then (optionally) BatchNorm3d and ReLU."""

    def __init__(self, cin: int, cout: int, kernel: Triple = (1, 1, 1), stride: Triple = (1, 1, 1),
                 norm_act: bool = True):
        super().__init__()
        self.kernel, self.stride, self.norm_act = kernel, stride, norm_act
        self.conv3d = nn.Conv3d(cin, cout, kernel, stride, padding=0, bias=not norm_act)
        if norm_act:
            self.bn = nn.BatchNorm3d(cout, eps=1e-5, momentum=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv3d(same_pad(x, self.kernel, self.stride))
        return F.relu(self.bn(x)) if self.norm_act else x


class InceptionBlock(nn.Module):
    """Four branches: 1x1; 1x1 -> 3x3x3; 1x1 -> 3x3x3; 3x3x3 max-pool -> 1x1; concatenated."""

    def __init__(self, cin: int, out: list[int]):
        super().__init__()
        self.b0 = Unit3D(cin, out[0])
        self.b1a, self.b1b = Unit3D(cin, out[1]), Unit3D(out[1], out[2], (3, 3, 3))
        self.b2a, self.b2b = Unit3D(cin, out[3]), Unit3D(out[3], out[4], (3, 3, 3))
        self.b3a, self.b3b = SamePadMaxPool3d((3, 3, 3), (1, 1, 1)), Unit3D(cin, out[5])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))], 1)


class InceptionI3d(nn.Sequential):
    """``(N, 3, T, 224, 224)`` in [-1, 1] -> ``(N, num_classes)`` logits averaged over time (T >= 9)."""

    def __init__(self, num_classes: int = 400):
        mixed = {name: InceptionBlock(cin, out) for name, (cin, out) in MIXED.items()}
        layers = OrderedDict(
            Conv3d_1a_7x7=Unit3D(3, 64, (7, 7, 7), (2, 2, 2)),
            MaxPool3d_2a_3x3=SamePadMaxPool3d((1, 3, 3), (1, 2, 2)),
            Conv3d_2b_1x1=Unit3D(64, 64),
            Conv3d_2c_3x3=Unit3D(64, 192, (3, 3, 3)),
            MaxPool3d_3a_3x3=SamePadMaxPool3d((1, 3, 3), (1, 2, 2)),
            Mixed_3b=mixed["Mixed_3b"], Mixed_3c=mixed["Mixed_3c"],
            MaxPool3d_4a_3x3=SamePadMaxPool3d((3, 3, 3), (2, 2, 2)),
            **{name: mixed[name] for name in ("Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e", "Mixed_4f")},
            MaxPool3d_5a_2x2=SamePadMaxPool3d((2, 2, 2), (2, 2, 2)),
            Mixed_5b=mixed["Mixed_5b"], Mixed_5c=mixed["Mixed_5c"],
            avg_pool=nn.AvgPool3d((2, 7, 7), stride=(1, 1, 1)),
            dropout=nn.Dropout(0.5),
            logits=Unit3D(1024, num_classes, norm_act=False),
        )
        super().__init__(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x).squeeze(4).squeeze(3).mean(dim=2)
