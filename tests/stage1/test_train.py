"""Training the tiny preset: the loss falls, checkpoints resume, the exported model loads."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch

from mmgt.errors import DataError
from mmgt.stage1.checkpoint import load_model
from mmgt.stage1.config import load_config
from mmgt.stage1.train import RunOptions, latest_checkpoint, train


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


def test_resume_continues_from_the_latest_checkpoint(run):
    cfg, opts, _ = run
    assert latest_checkpoint(Path(opts.out))[1] == 40
    longer = load_config("tiny", ["train.steps=45", "train.log_every=1", "train.checkpoint_every=20"])
    train(longer, opts)
    losses = pd.read_csv(f"{opts.out}/losses.csv")
    assert list(losses.step) == list(range(1, 46))  # resumed at 40, not restarted
    assert load_model(opts.out)[2]["step"] == 45


def test_missing_split_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="split root not found"):
        train(load_config("tiny"), RunOptions(data=str(tmp_path / "none"), out=str(tmp_path / "o"), progress=False))


def test_resume_refuses_checkpoints_of_another_run(run, tmp_path):
    import dataclasses
    import shutil

    opts = dataclasses.replace(run[1], out=str(shutil.copytree(run[1].out, tmp_path / "run")))
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
