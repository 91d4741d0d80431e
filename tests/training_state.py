"""Bit-for-bit comparison of training runs: every tensor and RNG state of two model or checkpoint folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file


def flatten(state, prefix: str = "") -> dict[str, torch.Tensor]:
    """The tensors, arrays and numbers of a nested state (dicts, lists, tuples) by dotted path."""
    if isinstance(state, torch.Tensor):
        return {prefix: state}
    if isinstance(state, np.ndarray):
        return {prefix: torch.from_numpy(state)}
    if isinstance(state, dict):
        return {k: v for key, value in state.items() for k, v in flatten(value, f"{prefix}.{key}").items()}
    if isinstance(state, (list, tuple)):
        return {k: v for i, value in enumerate(state) for k, v in flatten(value, f"{prefix}.{i}").items()}
    return {prefix: torch.tensor(state)} if isinstance(state, (int, float)) else {}


def state_of(folder: Path, files: tuple[str, ...] = ("**/*",)) -> dict[str, torch.Tensor]:
    """Every tensor of the ``files`` (globs) of a folder: safetensors weights, and accelerate's optimiser,
    EMA and RNG-state files."""
    out = {}
    for path in sorted({p for pattern in files for p in folder.glob(pattern) if p.is_file()}):
        rel = path.relative_to(folder).as_posix()
        if path.suffix == ".safetensors":
            out |= {f"{rel}:{k}": v for k, v in load_file(str(path)).items()}
        elif path.suffix in (".bin", ".pkl"):
            out |= flatten(torch.load(path, weights_only=False), rel)
    return out


def assert_same_state(a: Path, b: Path, files: tuple[str, ...] = ("**/*",)) -> None:
    """``a`` and ``b`` hold the same tensors in their ``files``, bit for bit."""
    left, right = state_of(a, files), state_of(b, files)
    assert left.keys() == right.keys() and left
    differ = [k for k in left if not torch.equal(left[k], right[k])]
    assert not differ, f"{len(differ)} tensors differ, e.g. {differ[:3]}"
