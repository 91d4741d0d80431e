"""The exported stage-1 model file: config + (EMA) weights + how the audio features were made."""

from __future__ import annotations

from pathlib import Path

import torch

from mmgt.errors import DataError
from mmgt.stage1.config import Stage1Config, config_from_dict
from mmgt.stage1.smga import SMGA
from mmgt.video_io import atomic_path

FORMAT = "mmgt-stage1/2"  # 2: residual stream h + d_face + d_body (1 summed two x + delta streams)
MODEL_FILE = "stage1.pt"


def save_model(path: str | Path, cfg: Stage1Config, state_dict: dict, step: int, extra: dict | None = None) -> Path:
    payload = {"format": FORMAT, "config": cfg.to_dict(), "state_dict": state_dict, "step": step, **(extra or {})}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return Path(path)


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[Stage1Config, SMGA, dict]:
    """Load an exported model (a file, or a run folder holding ``stage1.pt``) in eval mode."""
    path = Path(path)
    if path.is_dir():
        path = path / MODEL_FILE
    if not path.is_file():
        raise DataError(path, "stage-1 model not found (train one with `mmgt train stage1`)")
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # torch raises several unpickling error types
        raise DataError(path, f"not a readable stage-1 model ({exc.__class__.__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        found = payload.get("format") if isinstance(payload, dict) else None
        raise DataError(path, f"not a {FORMAT} model file" + (f" (it is {found}: retrain it with this version)" if found else ""))
    cfg = config_from_dict(payload["config"])
    model = SMGA(cfg.model).to(device)
    model.load_state_dict(payload["state_dict"])
    return cfg, model.eval(), payload
