"""The exported stage-1 model file (safetensors): EMA weights, with the config, training step and how
the audio features were made in its metadata. Training exports fp32; the committed tiny models are
the same file in fp16 (``dtype``), read back as fp32."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file

from mmgt.errors import DataError
from mmgt.stage1.config import Stage1Config, config_from_dict
from mmgt.stage1.smga import SMGA
from mmgt.video_io import atomic_path

FORMAT = "mmgt-stage1/3"  # 3: safetensors (2: torch pickle); 2+: residual stream h + d_face + d_body
MODEL_FILE = "stage1.safetensors"


def save_model(path: str | Path, cfg: Stage1Config, state_dict: dict, step: int, extra: dict | None = None,
               dtype: torch.dtype | None = None) -> Path:
    """Write the model; ``dtype`` casts its floating tensors (fp16 for committed checkpoints)."""
    tensors = {k: (v.to(dtype) if dtype is not None and v.is_floating_point() else v).contiguous()
               for k, v in state_dict.items()}
    meta = {"config": cfg.to_dict(), "step": step, **(extra or {})}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"format": FORMAT, "meta": json.dumps(meta, sort_keys=True)})
    return Path(path)


def read_payload(path: Path) -> tuple[dict, dict]:
    """``(metadata, state dict)`` of a model file, refusing anything else with one line."""
    try:
        with safe_open(str(path), "pt") as f:
            metadata = f.metadata() or {}
        if metadata.get("format") != FORMAT:
            found = metadata.get("format")
            raise DataError(path, f"not a {FORMAT} model file" + (f" (it is {found}: retrain it with this version)" if found else ""))
        return json.loads(metadata["meta"]), load_file(str(path))
    except (SafetensorError, OSError, ValueError, KeyError) as exc:
        raise DataError(path, f"not a readable stage-1 model ({exc.__class__.__name__}); "
                              "train one with `mmgt train stage1`") from None


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[Stage1Config, SMGA, dict]:
    """Load an exported model (a file, or a run folder holding ``stage1.safetensors``) in fp32 eval mode;
    the third value is its metadata (``config``, ``step``, ``audio``, ...)."""
    path = Path(path)
    if path.is_dir():
        path = path / MODEL_FILE
    if not path.is_file():
        raise DataError(path, "stage-1 model not found (train one with `mmgt train stage1`)")
    meta, state = read_payload(path)
    cfg = config_from_dict(meta["config"])
    model = SMGA(cfg.model)
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    return cfg, model.to(device).eval(), meta
