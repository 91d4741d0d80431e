"""Stage-1 presets: the EDGE and ablation rows differ from SMGA only in their switches, at the same budget."""

from __future__ import annotations

from dataclasses import asdict

import pytest

from mmgt.errors import DataError
from mmgt.stage1.config import available_presets, load_config


def flat(data: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in data.items():
        out |= flat(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}": value}
    return out


def differences(a, b) -> set[str]:
    fa, fb = flat(asdict(a)), flat(asdict(b))
    return {k for k in fa if fa[k] != fb[k]} - {"name"}


SWITCHES = {
    "edge-{}": {"model.dual_stream", "loss.face_weight", "generation.long_form"},
    "{}-single-stream": {"model.dual_stream"},
    "{}-no-face-loss": {"loss.face_weight"},
}


@pytest.mark.parametrize("size", ["tiny", "paper"])
@pytest.mark.parametrize("variant", sorted(SWITCHES))
def test_rows_differ_from_smga_only_in_their_switches(size, variant):
    smga, cfg = load_config(size), load_config(variant.format(size))
    assert cfg.train == smga.train  # same batch, steps, optimiser settings, EMA, seed
    assert differences(cfg, smga) == SWITCHES[variant]
    assert cfg.name == variant.format(size) and cfg.run_name == cfg.name


def test_every_preset_loads():
    names = available_presets()
    assert {"tiny", "paper", "edge-tiny", "tiny-single-stream", "paper-no-face-loss"} <= set(names)
    assert all(load_config(name).name == name for name in names)


def test_base_preset_is_merged_key_by_key(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("base: edge-tiny\nname: mine\ntrain:\n  steps: 7\n")
    cfg = load_config(str(path), ["train.seed=3"])
    edge = load_config("edge-tiny")
    assert differences(cfg, edge) == {"train.steps", "train.seed"}
    assert (cfg.train.steps, cfg.train.seed, cfg.train.batch_size, cfg.run_name) == (7, 3, edge.train.batch_size, "mine-seed3")


def test_preset_errors_name_the_file(tmp_path):
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(f"base: {b}\n")
    b.write_text(f"base: {a}\n")
    with pytest.raises(DataError, match="inherits from itself"):
        load_config(str(a))
    a.write_text("base: no-such-preset\n")
    with pytest.raises(DataError, match="no_such_preset.yaml.*no such stage-1 preset"):
        load_config(str(a))
    b.write_text("base: tiny\ntrain:\n  stpes: 3\n")
    with pytest.raises(DataError, match=r"b\.yaml.*unknown keys \['stpes'\]"):
        load_config(str(b))
