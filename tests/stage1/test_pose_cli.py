"""`mmgt pose`: reference pose input, outputs on disk, one-line errors."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from mmgt.cli.main import main
from mmgt.data.layout import Split
from mmgt.errors import DataError
from mmgt.stage1.checkpoint import save_model
from mmgt.stage1.config import load_config
from mmgt.stage1.outputs import reference_pose
from mmgt.stage1.smga import SMGA
from mmgt.video_io import probe


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    cfg = load_config("tiny", ["diffusion.sample_steps=2", "model.dim=32", "model.ff_dim=64", "model.layers=1"])
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "stage1.safetensors"
    return save_model(path, cfg, SMGA(cfg.model).state_dict(), step=0)


def test_reference_pose_from_files(tmp_path):
    kp = np.random.default_rng(0).uniform(0, 50, (5, 134, 3)).astype(np.float32)
    np.save(tmp_path / "seq.npy", kp)
    np.save(tmp_path / "one.npy", kp[2:3])
    np.save(tmp_path / "bad.npy", kp[:, :10])
    image = np.zeros((8, 8, 3), np.uint8)
    assert np.array_equal(reference_pose(image, tmp_path / "seq.npy"), kp[0])
    assert np.array_equal(reference_pose(image, tmp_path / "one.npy"), kp[2])
    with pytest.raises(DataError, match="bad.npy: keypoints have shape"):
        reference_pose(image, tmp_path / "bad.npy")
    with pytest.raises(DataError, match="file not found"):
        reference_pose(image, tmp_path / "none.npy")


def run_cli(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    """Run ``mmgt ARGS`` in-process through the console entry point; (exit code, stderr)."""
    monkeypatch.setattr(sys, "argv", ["mmgt", *args])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr().err


def test_pose_command_writes_keypoints_pose_and_mask_videos(tmp_path, mini_split, tiny_model, monkeypatch, capsys):
    clip = Split(mini_split).clips("test")[0]
    np.save(tmp_path / "ref.npy", clip.keypoints())
    out = tmp_path / "out"
    monkeypatch.chdir(tmp_path)  # the feature cache goes to ./cache
    code, err = run_cli(monkeypatch, capsys, "pose", "--audio", str(clip.audio_path), "--image", str(clip.ref_path),
                        "--keypoints", str(tmp_path / "ref.npy"), "--model", str(tiny_model), "--out", str(out))
    assert code == 0, err
    kp = np.load(out / "keypoints.npy")
    assert kp.shape == (80, 134, 3)
    for name in ("pose", "mask_face_hands", "mask_lips", "mask_background"):
        info = probe(out / f"{name}.mp4")
        assert info.n_frames == 80 and (info.width, info.height) == (64, 64)
    assert probe(out / "pose.mp4").has_audio


def test_pose_command_bad_input_is_one_line(tmp_path, tiny_model, monkeypatch, capsys):
    code, err = run_cli(monkeypatch, capsys, "pose", "--audio", str(tmp_path / "none.wav"),
                        "--image", str(tmp_path / "none.png"), "--model", str(tiny_model))
    assert code == 1
    assert err.strip().startswith("error:") and "none.png" in err and len(err.strip().splitlines()) == 1
