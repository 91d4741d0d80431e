"""Stage-2 model folders: every part in its diffusers / transformers layout, plus the config and scheduler.

::

    CKPT/
      stage2.json                 format, Stage2Config, training step, which step kind ("image"/"video")
      scheduler/                  the DDIMScheduler configuration training used (inference reads it back)
      reference_unet/ denoising_unet/ pose_guider/ vae/   config.json + diffusion_pytorch_model.safetensors
      image_encoder/              config.json + model.safetensors (transformers)

``denoising_unet`` is a ``UNet2DConditionModel`` after the image step and a ``UNetMotionModel`` after
the video step; later stage-2 methods (MMGT, Hallo-adapted) start from an image-step folder.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import torch
from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel, UNetMotionModel
from transformers import CLIPVisionModelWithProjection
from transformers.utils import logging as hf_logging

from mmgt.errors import DataError
from mmgt.stage2.config import Stage2Config, config_from_dict
from mmgt.stage2.model import Stage2Model, make_scheduler, scheduler_settings
from mmgt.stage2.pose_guider import PoseGuider

FORMAT = "mmgt-stage2/1"
META = "stage2.json"
PARTS = {"reference_unet": "reference_net", "denoising_unet": "denoiser", "pose_guider": "pose_guider",
         "image_encoder": "image_encoder", "vae": "vae"}


def save_model(folder: str | Path, model: Stage2Model, scheduler: DDIMScheduler, step: int, extra: dict | None = None,
               dtype: torch.dtype | None = None) -> Path:
    """Write ``model`` (optionally cast to ``dtype``, e.g. fp16 for committed checkpoints) atomically."""
    folder = Path(folder)
    tmp = folder.with_name(f".{folder.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    for sub, attr in PARTS.items():
        part = getattr(model, attr)
        if dtype is not None:
            part = copy.deepcopy(part).to(dtype)
        part.save_pretrained(tmp / sub, safe_serialization=True)
    scheduler.save_pretrained(tmp / "scheduler")
    meta = {"format": FORMAT, "config": model.cfg.to_dict(), "step": step, "stage": "video" if model.video else "image",
            **(extra or {})}
    (tmp / META).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return folder


def read_meta(folder: str | Path) -> dict:
    path = Path(folder) / META
    if not path.is_file():
        raise DataError(path, "not a stage-2 model folder (train one with `mmgt train stage2`)")
    try:
        meta = json.loads(path.read_text())
    except ValueError as exc:
        raise DataError(path, f"unreadable ({exc})") from None
    if meta.get("format") != FORMAT:
        raise DataError(path, f"not a {FORMAT} model folder")
    return meta


def load_part(cls, folder: Path):
    """One part in float32, refusing weights whose keys or shapes differ from its config's model (diffusers
    and transformers only warn and initialise what is missing at random)."""
    dtype = {"dtype" if cls is CLIPVisionModelWithProjection else "torch_dtype": torch.float32}
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # transformers draws a "Loading weights" bar for every part, even a 200 kB one
    try:
        part, info = cls.from_pretrained(folder, output_loading_info=True, **dtype)
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    wrong = {k: sorted(map(str, info[k])) for k in ("missing_keys", "unexpected_keys", "mismatched_keys") if info[k]}
    if wrong or info["error_msgs"]:
        raise DataError(folder, f"weights do not fit the model its config.json describes ({wrong or info['error_msgs']}); "
                                "restore the folder or retrain it")
    return part


def load_model(folder: str | Path, device: str | torch.device = "cpu") -> tuple[Stage2Model, DDIMScheduler, dict]:
    """A saved model in eval mode, its scheduler (checked against its config) and its metadata."""
    folder = Path(folder)
    meta = read_meta(folder)
    cfg: Stage2Config = config_from_dict(meta["config"])
    scheduler = DDIMScheduler.from_pretrained(folder / "scheduler")
    if scheduler_settings(scheduler) != scheduler_settings(make_scheduler(cfg.scheduler)):
        raise DataError(folder / "scheduler", "scheduler configuration differs from the model's config")
    denoiser_cls = UNetMotionModel if meta["stage"] == "video" else UNet2DConditionModel
    classes = {"reference_unet": UNet2DConditionModel, "denoising_unet": denoiser_cls, "pose_guider": PoseGuider,
               "image_encoder": CLIPVisionModelWithProjection, "vae": AutoencoderKL}
    model = Stage2Model(cfg, *(load_part(cls, folder / sub) for sub, cls in classes.items()))  # PARTS' order
    return model.to(device).eval(), scheduler, meta
