"""The stage-1 model file: fp32 from training, fp16 for committed models (read back as fp32); anything
else refused with one line."""

from __future__ import annotations

import pytest
import torch

from mmgt.errors import DataError
from mmgt.stage1.checkpoint import load_model, save_model
from mmgt.stage1.config import load_config
from mmgt.stage1.smga import SMGA

SMALL = ["model.dim=32", "model.ff_dim=64", "model.layers=1"]


@pytest.fixture
def model():
    cfg = load_config("tiny", SMALL)
    torch.manual_seed(0)
    return cfg, SMGA(cfg.model)


def test_fp32_round_trip_is_exact_and_fp16_is_read_as_fp32(tmp_path, model):
    cfg, smga = model
    state = smga.state_dict()
    save_model(tmp_path / "a.safetensors", cfg, state, step=7, extra={"audio": {"kind": "baseline"}})
    loaded_cfg, loaded, meta = load_model(tmp_path / "a.safetensors")
    assert loaded_cfg == cfg and meta["step"] == 7 and meta["audio"] == {"kind": "baseline"}
    assert all(torch.equal(v, state[k]) for k, v in loaded.state_dict().items())
    save_model(tmp_path / "h.safetensors", cfg, state, step=7, dtype=torch.float16)
    half = load_model(tmp_path / "h.safetensors")[1].state_dict()
    assert (tmp_path / "h.safetensors").stat().st_size < 0.6 * (tmp_path / "a.safetensors").stat().st_size
    for k, v in half.items():
        assert v.dtype == state[k].dtype
        torch.testing.assert_close(v, state[k], atol=2e-3, rtol=1e-3)


def test_other_files_are_refused(tmp_path, model):
    cfg, smga = model
    old = tmp_path / "stage1.pt"
    torch.save({"format": "mmgt-stage1/2", "config": cfg.to_dict(), "state_dict": smga.state_dict()}, old)
    junk = tmp_path / "junk.safetensors"
    junk.write_text("not weights")
    for path in (old, junk, tmp_path / "missing.safetensors"):
        with pytest.raises(DataError):
            load_model(path)
