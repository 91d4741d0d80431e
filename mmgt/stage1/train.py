"""Stage-1 training with accelerate: Adan, EMA, resumable checkpoints, loss log and loss-curve plot.

Run folder::

    OUT/
      run.json                  model format and configuration; a resume under another one is refused
      stage1.safetensors                 exported EMA model (config, weights, feature description)
      checkpoints/step-000500/  accelerate state (model, optimiser, EMA, RNG) for --resume
      losses.csv                step, total loss and every term
      loss.png                  the loss curve

Resume is exact: N steps, then M resumed ones, give the bits of N + M uninterrupted steps. The batch
order of every epoch is drawn from ``(seed, epoch)`` alone (:class:`EpochShuffle`) and a resume skips
into its epoch (:func:`batches_from`); the global RNG, which draws the noise, timesteps and condition
dropout, comes back with the accelerate state.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from adan_pytorch import Adan
from diffusers.training_utils import EMAModel
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler
from tqdm import tqdm

from mmgt.errors import DataError
from mmgt.features.audio import AudioFeatureConfig, AudioFeaturizer
from mmgt.stage1.checkpoint import FORMAT, MODEL_FILE, save_model
from mmgt.stage1.config import Stage1Config
from mmgt.stage1.data import load_windows
from mmgt.stage1.diffusion import GaussianDiffusion
from mmgt.stage1.losses import stage1_loss
from mmgt.stage1.smga import SMGA
from mmgt.video_io import atomic_path

KEEP_CHECKPOINTS = 2


@dataclass(frozen=True)
class RunOptions:
    """Where to read and write, and runtime switches that do not change the model."""

    data: str = "data/synth"
    out: str = "runs/stage1"
    weights: str | None = None  # audio encoder checkpoint folder (wavlm kinds)
    cache_dir: str | None = "cache/features"
    resume: bool = True
    progress: bool = True


def training_step(model: SMGA, diffusion: GaussianDiffusion, batch: list[Tensor], cfg: Stage1Config) -> tuple[Tensor, dict[str, float]]:
    """Noise x0 at random steps, drop the audio with p = cond_drop_prob, predict x0, score it."""
    x0, ref, audio = batch
    t = diffusion.sample_timesteps(x0.shape[0]).to(x0.device)
    x_t = diffusion.add_noise(x0, torch.randn_like(x0), t)
    keep = torch.rand(x0.shape[0], device=x0.device) >= cfg.diffusion.cond_drop_prob
    return stage1_loss(model(x_t, t, ref, audio, keep), x0, cfg.loss)


class EpochShuffle(Sampler[int]):
    """A new order every epoch, a permutation drawn from ``(seed, epoch)`` alone (never the global RNG)."""

    def __init__(self, n: int, seed: int):
        self.n, self.seed, self.epoch = n, seed, 0

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[int]:
        order = np.random.default_rng([self.seed, self.epoch]).permutation(self.n)
        self.epoch += 1
        return iter(order.tolist())


def shuffled_loader(dataset: Dataset, batch_size: int, seed: int) -> tuple[DataLoader, EpochShuffle]:
    """Full batches in :class:`EpochShuffle` order. The loader has its own generator: PyTorch draws a base
    seed for every iterator, which would otherwise come from (and shift) the global RNG."""
    sampler = EpochShuffle(len(dataset), seed)
    loader = DataLoader(dataset, batch_size=batch_size, sampler=sampler, drop_last=True,
                        generator=torch.Generator().manual_seed(seed))
    return loader, sampler


def batches_from(loader: DataLoader, sampler: EpochShuffle, accelerator: Accelerator, start: int) -> Iterator[list[Tensor]]:
    """The batches of steps ``start``, ``start + 1``, ... of an accelerate-prepared :func:`shuffled_loader`,
    exactly as a run from step 0 meets them."""
    sampler.epoch = start // len(loader)
    yield from accelerator.skip_first_batches(loader, start % len(loader))
    while True:
        yield from loader


def latest_checkpoint(out: Path) -> tuple[Path, int] | None:
    found = sorted((int(m.group(1)), p) for p in (out / "checkpoints").glob("step-*") if (m := re.fullmatch(r"step-(\d+)", p.name)))
    return (found[-1][1], found[-1][0]) if found else None


RUN_FILE = "run.json"
LENGTH_KEYS = ("steps", "log_every", "checkpoint_every", "threads")  # a resume may change these


def run_identity(run: dict) -> dict:
    """What a resume must match: the model format and the config, less the train keys in ``LENGTH_KEYS``."""
    config = run.get("config", {})
    train = {k: v for k, v in config.get("train", {}).items() if k not in LENGTH_KEYS}
    return {"format": run.get("format"), "config": {**config, "train": train}}


def claim_run_folder(out: Path, cfg: Stage1Config, resuming: bool) -> None:
    """Record the model format and config in ``OUT/run.json``; refuse to resume another run's checkpoints."""
    run = json.loads(json.dumps({"format": FORMAT, "config": cfg.to_dict()}))  # as read back from the file
    path = out / RUN_FILE
    if resuming and run_identity(json.loads(path.read_text()) if path.is_file() else {}) != run_identity(run):
        raise DataError(out, "holds checkpoints of another run (model format or configuration, e.g. the seed, differ); "
                             "train into another --out or delete the folder")
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(run, indent=2) + "\n")


def ema_state_dict(model: SMGA, ema: EMAModel) -> dict:
    """The model's state dict with EMA parameters (buffers such as audio statistics included)."""
    params = list(model.parameters())
    ema.store(params)
    ema.copy_to(params)
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    ema.restore(params)
    return state


def train(cfg: Stage1Config, opts: RunOptions = RunOptions()) -> Path:
    """Train (or resume) and export ``OUT/stage1.safetensors``; returns its path."""
    out = Path(opts.out)
    set_seed(cfg.train.seed)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    featurizer = AudioFeaturizer(AudioFeatureConfig(kind=cfg.audio.kind, weights=opts.weights, cache_dir=opts.cache_dir))
    windows = load_windows(opts.data, "train", featurizer, cfg.model.horizon)
    model = SMGA(cfg.model)
    if cfg.audio.standardize:
        audio = torch.from_numpy(windows.audio).flatten(0, 1)
        model.set_audio_stats(audio.mean(0), audio.std(0))
    batch = min(cfg.train.batch_size, len(windows.poses))
    loader, order = shuffled_loader(windows.dataset(), batch, cfg.train.seed)
    optimizer = Adan(model.parameters(), lr=cfg.train.lr, weight_decay=cfg.train.weight_decay)
    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
    ema = EMAModel(model.parameters(), decay=cfg.train.ema_decay)
    ema.to(accelerator.device)
    accelerator.register_for_checkpointing(ema)
    diffusion = GaussianDiffusion(cfg.diffusion)

    start = 0
    resume_from = latest_checkpoint(out) if opts.resume else None
    claim_run_folder(out, cfg, resuming=resume_from is not None)
    if resume_from is not None:
        accelerator.load_state(str(resume_from[0]))
        start = resume_from[1]
    log = LossLog(out / "losses.csv", keep_until=start)
    extra = {"audio": featurizer.describe(), "data": str(opts.data), "train_windows": len(windows.poses)}
    batches = batches_from(loader, order, accelerator, start)
    model.train()
    bar = tqdm(range(start, cfg.train.steps), initial=start, total=cfg.train.steps, desc=f"stage1 {cfg.name}", disable=not opts.progress)
    for step in bar:
        loss, terms = training_step(model, diffusion, next(batches), cfg)
        accelerator.backward(loss)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        ema.step(model.parameters())
        done = step + 1
        if done % cfg.train.log_every == 0 or done == cfg.train.steps:
            log.append(done, float(loss.detach()), terms)
            bar.set_postfix(loss=f"{float(loss.detach()):.4f}")
        if done % cfg.train.checkpoint_every == 0 or done == cfg.train.steps:
            save_checkpoint(accelerator, out, done)
            save_model(out / MODEL_FILE, cfg, ema_state_dict(accelerator.unwrap_model(model), ema), done, extra)
    plot_losses(out / "losses.csv", out / "loss.png")
    return out / MODEL_FILE


def save_checkpoint(accelerator: Accelerator, out: Path, step: int) -> None:
    """Save accelerate state to ``checkpoints/step-N`` (via a temporary name), keep the newest few."""
    import shutil

    final = out / "checkpoints" / f"step-{step:06d}"
    tmp = final.with_name(f".{final.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    accelerator.save_state(str(tmp))
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    old = sorted(p for p in final.parent.glob("step-*"))[:-KEEP_CHECKPOINTS]
    for path in old:
        shutil.rmtree(path)


class LossLog:
    """``losses.csv``; on resume, rows after the resumed step are dropped."""

    def __init__(self, path: Path, keep_until: int):
        self.path = path
        rows = []
        if path.is_file() and keep_until:
            with open(path, newline="") as fh:
                rows = [r for r in csv.DictReader(fh) if int(r["step"]) <= keep_until]
        self.fields: list[str] | None = list(rows[0]) if rows else None
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
            if rows:
                writer = csv.DictWriter(fh, fieldnames=self.fields, lineterminator="\n")
                writer.writeheader()
                writer.writerows(rows)

    def append(self, step: int, loss: float, terms: dict[str, float]) -> None:
        row = {"step": step, "loss": loss} | terms
        new = self.fields is None
        self.fields = self.fields or list(row)
        with open(self.path, "a", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=self.fields, lineterminator="\n")
            if new:
                writer.writeheader()
            writer.writerow(row)


def plot_losses(csv_path: Path, png_path: Path, title: str | None = None) -> None:
    """Total loss and its terms against the step (log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    if not csv_path.is_file():
        return
    df = pd.read_csv(csv_path)
    fig, ax = plt.subplots(figsize=(7, 4))
    for col in df.columns.drop("step"):
        ax.plot(df["step"], df[col], label=col, lw=2.0 if col == "loss" else 0.8)
    ax.set(xlabel="step", ylabel="loss", yscale="log", title=title or f"stage-1 training ({csv_path.parent.name})")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    with atomic_path(png_path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
