"""AnimateDiff motion-module checkpoints (``mm_sd_v15_v2.ckpt``, the file MMGT's stage-2 config names) as a
diffusers ``MotionAdapter``.

The original layout names each motion module ``<block>.motion_modules.<i>.temporal_transformer.…`` with
``attention_blocks.{0,1}`` (self-attention over frames), ``norms.{0,1}``, ``ff_norm`` and one sinusoidal
``pos_encoder.pe`` per attention block; diffusers' ``MotionAdapter`` names the same tensors without
``temporal_transformer``, as ``attn1``/``attn2``, ``norm1``/``norm2``/``norm3`` and one ``pos_embed.pe`` per
transformer block (the renaming of diffusers' ``convert_animatediff_motion_module_to_diffusers.py``).
The position tables are not learnt: instead of being copied they are checked against the adapter's own
(a file made for another ``max_seq_length`` is refused). Every other tensor must land on an adapter
parameter of the same shape, and every adapter parameter must receive one.
"""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import MotionAdapter

from mmgt.errors import DataError

RENAMES = ((".temporal_transformer", ""), (".attention_blocks.0", ".attn1"), (".attention_blocks.1", ".attn2"),
           (".norms.0", ".norm1"), (".norms.1", ".norm2"), (".ff_norm", ".norm3"))
POSITIONS = ".pos_encoder.pe"  # AnimateDiff's per-attention-block table; diffusers': transformer_blocks.<k>.pos_embed.pe
ADAPTER_POSITIONS = ".pos_embed.pe"


def diffusers_key(key: str) -> str:
    """An AnimateDiff motion-module key as diffusers' ``MotionAdapter`` names it."""
    for old, new in RENAMES:
        key = key.replace(old, new)
    return key


def read_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of an AnimateDiff ``.ckpt`` (a bare state dict, or one under ``"state_dict"``); no pickled
    code is run."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise DataError(path, "not an AnimateDiff motion-module checkpoint (expected a dict of tensors)")
    return state


def convert(state: dict[str, torch.Tensor], adapter: MotionAdapter, path: str | Path) -> dict[str, torch.Tensor]:
    """``state`` (AnimateDiff layout) renamed onto ``adapter``'s keys; raises naming the first key that does not
    fit (unknown, missing, another shape, another position table)."""
    target = adapter.state_dict()
    converted: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.endswith(POSITIONS):
            block = diffusers_key(key.removesuffix(POSITIONS)).rsplit(".", 1)[0]  # drop attn1/attn2
            expected = target.get(block + ADAPTER_POSITIONS)
            if expected is None or expected.shape != value.shape or not torch.allclose(expected, value.to(expected), atol=1e-6):
                raise DataError(path, f"{key}: position table does not match the adapter's "
                                      f"{None if expected is None else tuple(expected.shape)} (another max_seq_length?)")
            continue
        name = diffusers_key(key)
        if name not in target or target[name].shape != value.shape:
            raise DataError(path, f"{key} -> {name}: not in the motion adapter "
                                  f"{'' if name not in target else f'(shape {tuple(target[name].shape)}, file {tuple(value.shape)})'}")
        converted[name] = value
    missing = [k for k in target if k not in converted and not k.endswith(ADAPTER_POSITIONS)]
    if missing:
        raise DataError(path, f"{len(missing)} motion-adapter tensor(s) absent from the file, first {missing[0]}")
    return converted


def load_motion_checkpoint(path: str | Path, adapter: MotionAdapter) -> MotionAdapter:
    """``adapter`` (built for the UNet's widths) with the weights of an AnimateDiff ``.ckpt`` file."""
    converted = convert(read_checkpoint(path), adapter, path)
    adapter.load_state_dict(converted | {k: v for k, v in adapter.state_dict().items() if k.endswith(ADAPTER_POSITIONS)})
    return adapter
