"""LPIPS per frame: mean over frames, then over clips.

The network (``lpips.LPIPS(net="alex", version="0.1")``, loaded by eval/extractors) is any
callable mapping two ``(n, 3, H, W)`` float32 batches in [-1, 1] to ``n`` distances. Frames reach
:meth:`LPIPSMetric.update` in [0, 1] (or uint8) and are scaled to [-1, 1] here: feeding [0, 1]
to the network unscaled is the classic LPIPS bug.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from eval.metrics.frames import PerFrameMetric

LPIPSNet = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class LPIPSMetric(PerFrameMetric):
    """LPIPS of each (pred, gt) frame pair, computed by ``net`` on ``device`` in chunks of ``chunk`` frames."""

    direction = "lower"
    dtype = torch.float32

    def __init__(self, net: LPIPSNet, device: torch.device | str = "cpu", chunk: int = 16) -> None:
        super().__init__("lpips", device, chunk)
        self.net = net

    def frame_scores(self, pred: torch.Tensor, gt: torch.Tensor) -> np.ndarray:
        distances = self.net(pred * 2 - 1, gt * 2 - 1)
        if distances.numel() != len(pred):
            raise ValueError(f"lpips: the network gave {tuple(distances.shape)} for {len(pred)} frame pairs")
        return distances.reshape(-1).to("cpu", torch.float64).numpy()
