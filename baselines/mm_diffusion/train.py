"""Train MM-Diffusion's two models on a split with accelerate: the coupled U-Net, then the upsampler.

Each model trains with AdamW and an EMA, resumable accelerate checkpoints, a loss log and a loss
plot; its EMA weights are exported to the run folder (:mod:`baselines.mm_diffusion.checkpoint`)
at every checkpoint::

    RUN/
      mm_diffusion.json, coupled.safetensors, sr.safetensors
      coupled/  checkpoints/step-N/ (accelerate state, for resume), losses.csv, loss.png
      sr/       the same for the upsampler

CLI: ``mmgt train mm-diffusion --preset tiny --out RUN``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from diffusers.training_utils import EMAModel
from torch import Tensor, nn
from torch.utils.data import TensorDataset
from tqdm import tqdm

from mmgt.stage1.train import (LossLog, batches_from, ema_state_dict, latest_checkpoint, plot_losses, save_checkpoint,
                               shuffled_loader)

from baselines.mm_diffusion.checkpoint import MODELS, check_run, save_weights
from baselines.mm_diffusion.config import MMDiffusionConfig, TrainConfig
from baselines.mm_diffusion.data import Windows, load_windows
from baselines.mm_diffusion.diffusion import coupled_loss, scheduler
from baselines.mm_diffusion.model import CoupledUNet
from baselines.mm_diffusion.sr import build_sr, random_crops, sr_loss

StepLoss = Callable[[nn.Module, list[Tensor]], tuple[Tensor, dict[str, float]]]


@dataclass(frozen=True)
class RunOptions:
    data: str = "data/synth"
    out: str = "runs/mm_diffusion/tiny"
    models: tuple[str, ...] = MODELS
    fp16: bool = False  # export half-precision weights (the committed tiny checkpoints)
    resume: bool = True
    progress: bool = True


def fit(name: str, build: Callable[[], nn.Module], dataset: TensorDataset, step_loss: StepLoss, tcfg: TrainConfig, out: Path,
        opts: RunOptions, export: Callable[[dict, int], None]) -> None:
    """Train ``build()`` (initialised after seeding with ``tcfg.seed``) for ``tcfg.steps``, resuming from
    ``out/checkpoints``; EMA weights are exported at every checkpoint."""
    set_seed(tcfg.seed)
    if tcfg.threads:
        torch.set_num_threads(tcfg.threads)
    model = build()
    loader, order = shuffled_loader(dataset, min(tcfg.batch_size, len(dataset)), tcfg.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=tcfg.lr, weight_decay=0.0)
    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
    ema = EMAModel(model.parameters(), decay=tcfg.ema_decay)
    ema.to(accelerator.device)
    accelerator.register_for_checkpointing(ema)
    start = 0
    if opts.resume and (found := latest_checkpoint(out)) is not None:
        accelerator.load_state(str(found[0]))
        start = found[1]
    log = LossLog(out / "losses.csv", keep_until=start)
    batches = batches_from(loader, order, accelerator, start)
    model.train()
    bar = tqdm(range(start, tcfg.steps), initial=start, total=tcfg.steps, desc=f"mm-diffusion {name}", disable=not opts.progress)
    for step in bar:
        loss, terms = step_loss(model, next(batches))
        accelerator.backward(loss)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        ema.step(model.parameters())
        done = step + 1
        if done % tcfg.log_every == 0 or done == tcfg.steps:
            log.append(done, float(loss.detach()), terms)
            bar.set_postfix(loss=f"{float(loss.detach()):.4f}")
        if done % tcfg.checkpoint_every == 0 or done == tcfg.steps:
            save_checkpoint(accelerator, out, done)
            export(ema_state_dict(accelerator.unwrap_model(model), ema), done)
    plot_losses(out / "losses.csv", out / "loss.png", title=f"MM-Diffusion {name} ({out.parent.name})")


def train(cfg: MMDiffusionConfig, opts: RunOptions = RunOptions(), windows: Windows | None = None) -> Path:
    """Train the models named in ``opts.models``; returns the run folder (load it with ``load_run``)."""
    run = Path(opts.out)
    check_run(run, cfg)
    windows = windows if windows is not None else load_windows(opts.data, cfg)
    sched = scheduler(cfg.diffusion)
    extra = {"data": str(opts.data), "train_windows": len(windows.video), "sr_train_frames": len(windows.high)}

    def exporter(name: str) -> Callable[[dict, int], None]:
        return lambda state, step: save_weights(run, name, cfg, state, step, opts.fp16, extra)

    if "coupled" in opts.models:
        fit("coupled", lambda: CoupledUNet(cfg.model), TensorDataset(windows.video, windows.audio),
            lambda m, b: coupled_loss(m, sched, *b), cfg.train, run / "coupled", opts, exporter("coupled"))
    if "sr" in opts.models:
        def sr_step(model: nn.Module, batch: list[Tensor]) -> tuple[Tensor, dict[str, float]]:
            high, low = windows.sr_pairs(batch[0].cpu(), cfg)
            high, low = random_crops(high, low, cfg.sr.crop)
            dev = next(model.parameters()).device
            return sr_loss(model, sched, high.to(dev), low.to(dev))

        fit("sr", lambda: build_sr(cfg.sr), TensorDataset(torch.arange(len(windows.high))), sr_step, cfg.sr_train,
            run / "sr", opts, exporter("sr"))
    return run
