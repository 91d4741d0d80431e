"""Small models and inputs shared by the stage-1 tests."""

from __future__ import annotations

import torch

from mmgt.stage1.smga import SMGA, SMGAConfig

TINY = SMGAConfig(dim=32, ff_dim=64, layers=2, heads=4, encoder_layers=1, dropout=0.0, audio_dim=35, horizon=80)


def make(cfg: SMGAConfig = TINY, seed: int = 0) -> SMGA:
    torch.manual_seed(seed)
    return SMGA(cfg).eval()


def inputs(b: int = 2, seed: int = 1) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(b, 80, 402, generator=g), torch.randint(0, 1000, (b,), generator=g),
            torch.randn(b, 402, generator=g), torch.randn(b, 80, 35, generator=g))
