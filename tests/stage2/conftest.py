"""Stage-2 fixtures: the tiny preset shrunk to 64 px frames (8x8 latents) so each test takes seconds."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mmgt.stage2.config import Stage2Config, load_config
from mmgt.stage2.model import Stage2Model

SMALL = ("resolution=64", "inference.steps=3", "inference.context_frames=6", "inference.context_overlap=2",
         "inference.window_batch=2", "train.threads=0", "train.vae.steps=2", "train.vae.batch_size=2",
         "train.vae.crop=32", "train.vae.frames_per_clip=2")


@pytest.fixture(scope="session")
def small_cfg() -> Stage2Config:
    return load_config("tiny", SMALL)


def build(cfg: Stage2Config, seed: int = 0) -> Stage2Model:
    torch.manual_seed(seed)
    return Stage2Model.build(cfg).eval()


def activate(model: Stage2Model, seed: int = 0) -> Stage2Model:
    """``model`` with trained-like PoseGuider and MM-HAA adapters: the zero-init outputs (``conv_out``, every
    adapter) random, and the guider's inner convs He-initialised (at PyTorch's default init their output
    barely depends on the pose), so the poses and the audio change the frames (untrained, they change nothing)."""
    g = torch.Generator().manual_seed(seed)
    blocks = getattr(getattr(model, "audio", None), "blocks", {})
    with torch.no_grad():
        for conv in [model.pose_guider.conv_out] + [c for b in blocks.values() for c in b.adapters]:
            conv.weight.copy_(torch.randn(conv.weight.shape, generator=g) * 0.3)
        for conv in model.pose_guider.blocks:
            if isinstance(conv, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(conv.weight, generator=g)
                conv.bias.zero_()
    return model


@pytest.fixture(scope="session")
def trained(small_cfg: Stage2Config, tiny_split: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A VAE, an image-step and a video-step model, each trained for a couple of steps on the tiny split."""
    from mmgt.stage2.train import RunOptions, train
    from mmgt.stage2.vae import train_vae

    out = tmp_path_factory.mktemp("stage2_run")
    train_vae(small_cfg, tiny_split, out / "vae", progress=False)
    opts = RunOptions(data=str(tiny_split), out=str(out), vae=str(out / "vae"), steps=2, progress=False,
                      cache_dir=str(out / "cache"))
    return {"vae": out / "vae", "image": train(small_cfg, opts, "image"), "video": train(small_cfg, opts, "video"), "run": out}
