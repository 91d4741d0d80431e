"""Training the tiny preset: the loss falls, checkpoints resume, the exported model loads."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
import torch

from mmgt.errors import DataError
from mmgt.stage1.checkpoint import MODEL_FILE, load_model
from mmgt.stage1.config import load_config
from mmgt.stage1.train import RunOptions, latest_checkpoint, train
from tests.training_state import assert_same_state


@pytest.fixture(scope="module")
def run(mini_split, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    cfg = load_config("tiny", ["train.steps=40", "train.log_every=1", "train.checkpoint_every=20"])
    opts = RunOptions(data=str(mini_split), out=str(out), cache_dir=str(out / "cache"), progress=False)
    return cfg, opts, train(cfg, opts)


def test_tiny_training_loss_falls(run):
    _, opts, model_path = run
    losses = pd.read_csv(f"{opts.out}/losses.csv")
    assert list(losses.step) == list(range(1, 41))
    assert losses.loss[-10:].mean() < 0.6 * losses.loss[:10].mean()
    assert {"gesture_pos", "gesture_vel", "gesture_acc", "face_pos", "face_vel", "face_acc"} <= set(losses.columns)
    assert (model_path.parent / "loss.png").stat().st_size > 1000


def test_exported_model_loads_with_its_config(run):
    cfg, _, model_path = run
    loaded_cfg, model, payload = load_model(model_path)
    assert loaded_cfg == cfg and payload["step"] == 40 and not model.training
    assert payload["audio"]["kind"] == "baseline"
    assert torch.any(model.audio_std != 1)  # train statistics stored with the weights


def test_resumed_steps_equal_uninterrupted_steps_bit_for_bit(run, tmp_path):
    """4 steps, then 2 resumed, give the bits of 6 uninterrupted steps: the exported EMA model, the whole
    accelerate state (weights, Adan moments, EMA, RNG) and the logged losses. 6 windows in batches of 2
    make 3 batches an epoch, so the resume lands inside an epoch."""
    _, opts, _ = run
    sets = ["train.batch_size=2", "train.log_every=1", "train.checkpoint_every=4"]

    def trained(out: Path, steps: int) -> Path:
        return train(load_config("tiny", [f"train.steps={steps}", *sets]), replace(opts, out=str(out)))

    trained(tmp_path / "resumed", 4)
    assert latest_checkpoint(tmp_path / "resumed")[1] == 4
    resumed, straight = trained(tmp_path / "resumed", 6), trained(tmp_path / "straight", 6)
    assert load_model(resumed)[2]["step"] == 6
    losses = pd.read_csv(resumed.parent / "losses.csv")
    assert list(losses.step) == list(range(1, 7))  # resumed at 4, not restarted
    assert_same_state(resumed.parent / "checkpoints" / "step-000006", straight.parent / "checkpoints" / "step-000006")
    assert_same_state(resumed.parent, straight.parent, files=(MODEL_FILE,))
    pd.testing.assert_frame_equal(losses, pd.read_csv(straight.parent / "losses.csv"))


def test_missing_split_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="split root not found"):
        train(load_config("tiny"), RunOptions(data=str(tmp_path / "none"), out=str(tmp_path / "o"), progress=False))


def test_resume_refuses_checkpoints_of_another_run(run, tmp_path):
    import shutil

    opts = replace(run[1], out=str(shutil.copytree(run[1].out, tmp_path / "run")))
    other_seed = load_config("tiny", ["train.steps=50", "train.seed=1"])
    with pytest.raises(DataError, match="holds checkpoints of another run"):
        train(other_seed, opts)
    (Path(opts.out) / "run.json").unlink()  # a run written before run.json (older model format)
    with pytest.raises(DataError, match="holds checkpoints of another run"):
        train(load_config("tiny", ["train.steps=50"]), opts)


def test_seed_option_sets_the_seed_and_the_run_folder(monkeypatch, tmp_path):
    import sys

    import mmgt.stage1.train as train_module
    from mmgt.cli.main import main

    seen = []
    monkeypatch.setattr(train_module, "train", lambda cfg, opts: seen.append((cfg, opts)) or Path(opts.out) / "stage1.safetensors")
    monkeypatch.chdir(tmp_path)
    for args in (["--preset", "tiny-no-face-loss", "--seed", "2"], ["--preset", "edge-tiny"]):
        monkeypatch.setattr(sys, "argv", ["mmgt", "train", "stage1", *args])
        with pytest.raises(SystemExit) as exit_:
            main()
        assert exit_.value.code == 0
    (cfg2, opts2), (cfg0, opts0) = seen
    assert cfg2.train.seed == 2 and Path(opts2.out) == Path("runs/stage1/tiny-no-face-loss-seed2")
    assert cfg0.train.seed == 0 and Path(opts0.out) == Path("runs/stage1/edge-tiny")
    assert cfg2 == load_config("tiny-no-face-loss", ["train.seed=2"])
