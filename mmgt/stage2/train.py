"""Stage-2 training with accelerate: the image step, then the video step (AnimateAnyone's recipe).

- image step: a target frame and a reference frame >= 25 frames apart; the denoising UNet, the
  ReferenceNet and the PoseGuider train (and the image encoder when it is not pretrained: tiny);
- video step: 12-frame clips; only the motion modules train, starting from an image-step model.

Both: v-prediction on the shared DDIM configuration (zero terminal SNR), noise offset, min-SNR
weighting (gamma 5, v-prediction form ``min(snr, gamma) / (snr + 1)``), condition dropout (zero
CLIP token and no reference features). Runs resume exactly (N steps then M resumed ones give the bits
of N + M uninterrupted steps): each step draws its batch and noise from ``(seed, process, step)``
alone (:func:`step_randomness`), the rest comes back with the accelerate state. The same code scales out with
``accelerate launch --num_processes N -m mmgt.cli train stage2 ...``.

Run folder (``OUT/<step>/``)::

    model/                      the exported model (mmgt.stage2.checkpoint layout)
    checkpoints/step-000250/    accelerate state for resume
    losses.csv, loss.png        the loss curve
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator, DistributedDataParallelKwargs
from accelerate.utils import set_seed
from diffusers import AutoencoderKL, DDIMScheduler
from diffusers.training_utils import compute_snr
from torch import Tensor
from tqdm import tqdm

from mmgt.errors import MMGTError
from mmgt.stage1.train import KEEP_CHECKPOINTS, LossLog, latest_checkpoint, plot_losses
from mmgt.stage2.checkpoint import load_model, save_model
from mmgt.stage2.config import Stage2Config, TrainConfig
from mmgt.stage2.data import Batch, encode_split, sample_batch
from mmgt.stage2.model import Stage2Model, make_scheduler

STEPS = ("image", "video")
MODEL_DIR = "model"


@dataclass(frozen=True)
class RunOptions:
    data: str = "data/synth"
    out: str = "runs/stage2/tiny"
    vae: str | None = None  # a trained VAE folder (tiny preset: mmgt.stage2.vae.train_vae's output)
    init: str | None = None  # video step: the image-step model folder (default OUT/image/model)
    weights_dir: str | None = None  # pretrained weights cache (paper preset)
    steps: int | None = None  # override the preset's step count (short verification runs)
    cache_dir: str = "cache/stage2"  # encoded train frames, shared by runs on the same VAE and split
    resume: bool = True
    progress: bool = True


def diffusion_loss(model: torch.nn.Module, scheduler: DDIMScheduler, batch: Batch, cfg: TrainConfig,
                   generator: torch.Generator | None = None) -> Tensor:
    """Min-SNR-weighted v-prediction loss with noise offset and condition dropout."""
    x0 = batch.latents
    b, c = x0.shape[:2]
    kw = {"generator": generator, "device": x0.device}
    noise = torch.randn(x0.shape, **kw) + cfg.noise_offset * torch.randn((b, c, 1, 1, 1), **kw)
    t = torch.randint(0, scheduler.config.num_train_timesteps, (b,), **kw)
    keep = torch.rand(b, **kw) >= cfg.cond_drop_prob
    pred = model(scheduler.add_noise(x0, noise, t), t, batch.pose, batch.ref_latents, batch.ref_images, keep,
                 **batch.conditions())
    target = scheduler.get_velocity(x0, noise, t)
    snr = compute_snr(scheduler, t)
    weight = snr.clamp(max=cfg.snr_gamma) / (snr + 1)
    return (weight * ((pred.float() - target.float()) ** 2).mean(dim=(1, 2, 3, 4))).mean()


def step_randomness(seed: int, process: int, step: int, device: torch.device) -> tuple[np.random.Generator, torch.Generator]:
    """The batch draw (numpy) and the noise, timesteps and dropout (torch) of one training step, from
    ``(seed, process, step)`` alone, so that a resumed run repeats an uninterrupted one."""
    rng = np.random.default_rng([seed, process, step])
    return rng, torch.Generator(device).manual_seed(int(rng.integers(2**63)))


def initial_model(cfg: Stage2Config, opts: RunOptions, step: str) -> Stage2Model:
    """Image step: pretrained parts per config (tiny: the trained VAE); video step: the image-step model + motion modules."""
    if step == "image":
        vae = None
        if cfg.pretrained.vae is None:
            if opts.vae is None:
                raise MMGTError(f"preset {cfg.name!r} has no pretrained VAE: train one first (`mmgt train stage2 --step vae`) and pass --vae")
            vae = AutoencoderKL.from_pretrained(opts.vae, torch_dtype=torch.float32)
        return Stage2Model.build(cfg, opts.weights_dir, vae=vae)
    init = opts.init or str(Path(opts.out) / "image" / MODEL_DIR)
    model, _, meta = load_model(init)
    if meta["stage"] != "image":
        raise MMGTError(f"{init}: the video step starts from an image-step model, got a {meta['stage']}-step one")
    model.add_motion(weights_dir=opts.weights_dir)
    return model.train()


def save_checkpoint(accelerator: Accelerator, out: Path, step: int) -> None:
    """Accelerate state (every process writes its part) to ``checkpoints/step-N``; keep the newest few."""
    import shutil

    accelerator.save_state(str(out / "checkpoints" / f"step-{step:06d}"))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        for old in sorted((out / "checkpoints").glob("step-*"))[:-KEEP_CHECKPOINTS]:
            shutil.rmtree(old)


def trainable(model: Stage2Model, step: str) -> list[torch.nn.Parameter]:
    if step == "video":
        return model.motion_parameters()
    parts = [model.denoiser, model.reference_net, model.pose_guider]
    if model.cfg.pretrained.image_encoder is None:
        parts.append(model.image_encoder)  # tiny: the small CLIP tower trains with the rest
    return [p for part in parts for p in part.parameters()]


class Recipe:
    """What a stage-2 model adds to the backbone's training loop (:func:`train`); this one is AnimateAnyone's.
    MMGT's (:mod:`mmgt.stage2.mmgt_train`) adds the audio modules, audio features and masks."""

    def initial_model(self, cfg: Stage2Config, opts: RunOptions, step: str) -> Stage2Model:
        return initial_model(cfg, opts, step)

    def trainable(self, model: Stage2Model, step: str) -> list[torch.nn.Parameter]:
        return trainable(model, step)

    def data(self, model: Stage2Model, opts: RunOptions, progress: bool):
        return encode_split(model, opts.data, "train", cache=Path(opts.cache_dir), progress=progress)

    def batch(self, data, rng: np.random.Generator, cfg: Stage2Config, step_cfg) -> Batch:
        return sample_batch(data, rng, step_cfg.batch_size, step_cfg.frames, cfg.resolution, cfg.train.min_ref_distance)

    def save(self, folder: Path, model: Stage2Model, scheduler: DDIMScheduler, step: int, extra: dict) -> Path:
        return save_model(folder, model, scheduler, step, extra)


def train(cfg: Stage2Config, opts: RunOptions = RunOptions(), step: str = "image", recipe: Recipe | None = None) -> Path:
    """Train (or resume) one step kind and export ``OUT/<step>/model``; returns that folder."""
    recipe = recipe or Recipe()
    if step not in STEPS:
        raise ValueError(f"step must be one of {STEPS}, got {step!r}")
    out = Path(opts.out) / step
    step_cfg = getattr(cfg.train, step)
    total = opts.steps if opts.steps is not None else step_cfg.steps
    set_seed(cfg.train.seed)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    accelerator = Accelerator(cpu=not torch.cuda.is_available(),
                              kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)])
    model = recipe.initial_model(cfg, opts, step).to(accelerator.device)
    params = recipe.trainable(model, step)
    model.requires_grad_(False)
    for p in params:
        p.requires_grad_(True)
    data = recipe.data(model, opts, opts.progress and accelerator.is_main_process)
    scheduler = make_scheduler(cfg.scheduler)
    optimizer = torch.optim.AdamW(params, lr=step_cfg.lr, weight_decay=cfg.train.weight_decay)
    model, optimizer = accelerator.prepare(model, optimizer)

    start = 0
    resume_from = latest_checkpoint(out) if opts.resume else None
    if resume_from is not None:
        accelerator.load_state(str(resume_from[0]))
        start = resume_from[1]
    log = LossLog(out / "losses.csv", keep_until=start) if accelerator.is_main_process else None
    bar = tqdm(range(start, total), initial=start, total=total, desc=f"stage2 {cfg.name} {step}",
               disable=not opts.progress or not accelerator.is_main_process)
    model.train()
    recent: list[float] = []
    for i in bar:
        rng, generator = step_randomness(cfg.train.seed, accelerator.process_index, i, accelerator.device)
        batch = recipe.batch(data, rng, cfg, step_cfg)
        loss = diffusion_loss(model, scheduler, batch.to(accelerator.device), cfg.train, generator)
        accelerator.backward(loss)
        accelerator.clip_grad_norm_(params, cfg.train.max_grad_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        done = i + 1
        recent.append(float(accelerator.reduce(loss.detach(), reduction="mean")))
        if done % cfg.train.log_every == 0 or done == total:
            value, recent = sum(recent) / len(recent), []  # mean since the last row: one batch is too noisy
            if log is not None:
                log.append(done, value, {})
            bar.set_postfix(loss=f"{value:.4f}")
        if done % step_cfg.checkpoint_every == 0 or done == total:
            save_checkpoint(accelerator, out, done)
            if accelerator.is_main_process:
                recipe.save(out / MODEL_DIR, accelerator.unwrap_model(model), scheduler, done, {"data": str(opts.data)})
            accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        plot_losses(out / "losses.csv", out / "loss.png", title=f"stage-2 {step} step")
    return out / MODEL_DIR
