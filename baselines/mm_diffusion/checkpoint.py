"""The exported MM-Diffusion run: ``mm_diffusion.json`` (config, files, hashes) + one safetensors file per model.

::

    RUN/
      mm_diffusion.json      {"format", "config", "models": {name: {"file", "sha256", "step", "dtype"}}, ...}
      coupled.safetensors    EMA weights of the coupled U-Net
      sr.safetensors         EMA weights of the upsampler
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from mmgt.errors import DataError
from mmgt.video_io import atomic_path

from baselines.mm_diffusion.config import MMDiffusionConfig, from_dict

FORMAT = "mmgt-mm-diffusion/1"
INDEX = "mm_diffusion.json"
MODELS = ("coupled", "sr")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_index(run: Path) -> dict | None:
    path = run / INDEX
    if not path.is_file():
        return None
    try:
        index = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DataError(path, f"not valid JSON ({exc.msg})") from None
    if index.get("format") != FORMAT:
        raise DataError(path, f"not a {FORMAT} index")
    return index


ARCHITECTURE = ("model", "sr", "diffusion")  # config sections the weights depend on (training ones may change)


def check_run(run: Path, cfg: MMDiffusionConfig) -> dict | None:
    """The run's index, refusing a run whose models have another architecture or schedule."""
    index = read_index(run)
    new = json.loads(json.dumps(cfg.to_dict()))
    if index is not None and any(index["config"].get(k) != new[k] for k in ARCHITECTURE):
        raise DataError(run / INDEX, "the run folder holds models of another configuration; use a new --out")
    return index


def save_weights(run: Path, name: str, cfg: MMDiffusionConfig, state: dict, step: int, fp16: bool, extra: dict) -> Path:
    """Write ``RUN/<name>.safetensors`` and record it (hash, step, dtype) in ``RUN/mm_diffusion.json``."""
    index = check_run(run, cfg) or {"format": FORMAT, "models": {}}
    index["config"] = cfg.to_dict()
    dtype = torch.float16 if fp16 else torch.float32
    tensors = {k: (v.to(dtype) if v.is_floating_point() else v).contiguous() for k, v in state.items()}
    path = run / f"{name}.safetensors"
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"format": FORMAT, "model": name, "step": str(step)})
    index["models"][name] = {"file": path.name, "sha256": sha256(path), "step": step, "dtype": str(dtype).removeprefix("torch.")}
    index.update(extra)
    with atomic_path(run / INDEX) as tmp:
        tmp.write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    return path


def load_run(run: str | Path) -> tuple[MMDiffusionConfig, dict, dict[str, dict[str, torch.Tensor]]]:
    """Config, index and float32 state dicts of both models; every file's hash is checked."""
    run = Path(run)
    index = read_index(run)
    if index is None:
        raise DataError(run / INDEX, "MM-Diffusion model not found (train it with `mmgt train mm-diffusion`)")
    states = {}
    for name in MODELS:
        entry = index["models"].get(name)
        if entry is None:
            raise DataError(run / INDEX, f"no {name} model in the run (train it with `mmgt train mm-diffusion --models {name}`)")
        path = run / entry["file"]
        if not path.is_file():
            raise DataError(path, "weights file not found")
        if sha256(path) != entry["sha256"]:
            raise DataError(path, "sha256 differs from the one recorded in mm_diffusion.json")
        states[name] = {k: v.float() if v.is_floating_point() else v for k, v in load_file(str(path)).items()}
    return from_dict(MMDiffusionConfig, index["config"]), index, states


def load_state(model: nn.Module, state: dict, where: Path) -> nn.Module:
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise DataError(where, f"weights do not fit the configured architecture ({str(exc).splitlines()[0]})") from None
    return model.eval()
